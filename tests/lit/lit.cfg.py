# lit configuration for the PTX/FileCheck tests: each .test file compiles a kernel spec with
# `shapejit compile --emit ptx` and checks the PTX with FileCheck.
import os
import lit.formats

config.name = "shapejit-codegen"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.shapejit_build_dir, "tests", "lit")
config.substitutions.append(("%shapejit", os.path.join(config.shapejit_build_dir, "bin", "shapejit")))
config.substitutions.append(("%FileCheck", config.filecheck))
config.substitutions.append(("%not", config.not_tool))
config.environment["SHAPEJIT_CACHE"] = os.path.join(config.shapejit_build_dir, "test-cache", "lit.db")
