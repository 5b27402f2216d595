"""Every C++ error code arrives as its Python class, with code, message and compile details."""

from __future__ import annotations

import pytest

import shapejit
from shapejit import _shapejit as _C

CASES = [
    ("invalid_argument", shapejit.InvalidArgument),
    ("unsupported", shapejit.Unsupported),
    ("compile_failed", shapejit.CompileError),
    ("compiler_crashed", shapejit.CompileError),
    ("compile_timeout", shapejit.CompileError),
    ("cache", shapejit.CacheError),
    ("no_driver", shapejit.NoDriver),
    ("driver", shapejit.DriverError),
    ("io", shapejit.FileError),
]


@pytest.mark.parametrize("code,cls", CASES)
def test_each_code_maps_to_its_class(code, cls):
    with pytest.raises(cls) as info:
        _C._raise_for_test(code, f"message for {code}")
    err = info.value
    assert type(err) is cls and isinstance(err, shapejit.Error) and isinstance(err, RuntimeError)
    assert err.code == code and str(err) == f"message for {code}"


def test_compile_error_details_and_python_base_classes():
    with pytest.raises(shapejit.CompileError) as info:
        _C._raise_for_test("compile_failed", "nvrtc said no")
    assert info.value.spec == "quant/x<1>@sm_90a" and "log line" in info.value.log
    assert issubclass(shapejit.InvalidArgument, ValueError)
    assert issubclass(shapejit.FileError, OSError)
    assert shapejit.errors.class_for_code("something new") is shapejit.Error


def test_a_real_library_error_arrives_mapped():
    with pytest.raises(shapejit.InvalidArgument, match="missing '/'"):
        shapejit.resolve_spec("not-a-spec")
