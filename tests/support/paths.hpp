#pragma once
// Where the test's sibling executables (shapejit, shapejit-compile-worker) are: the folder of
// the running test binary, so a build folder can be moved to another machine and still run.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace shapejit::testing {

inline std::string bin_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

}  // namespace shapejit::testing
