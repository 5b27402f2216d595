"""Shared fixtures: a private kernel database per test, the GPU skip rule, and a stand-in CUDA
tensor (a DLPack capsule that says "CUDA" over host memory) so the tensor checks that run before
any driver call can be tested on a machine without a GPU. The stand-in is never launched on."""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest

import shapejit


@pytest.fixture
def cache_path(tmp_path):
    return str(tmp_path / "kernels.db")


@pytest.fixture
def runtime(cache_path):
    return shapejit.Runtime(cache_path=cache_path)


def gpu_skip_reason():
    """Why the GPU tests cannot run here, or None when they can."""
    try:
        import torch
    except ImportError:
        return "torch is not installed (pip install torch to run the GPU tests)"
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    ok, why = shapejit.driver_available()
    if not ok:
        return f"no CUDA driver for shapejit: {why}"
    major, _ = torch.cuda.get_device_capability()
    if major != 9:
        return f"shapejit's kernels need sm_90 (Hopper); this GPU is sm_{major}x"
    return None


requires_gpu = pytest.mark.skipif(gpu_skip_reason() is not None, reason=str(gpu_skip_reason()))


# ---- a stand-in CUDA tensor over host memory (DLPack 0.x "dltensor" capsule) ----------------
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_CODES = {"int32": (0, 32), "uint8": (1, 8), "float32": (2, 32), "bfloat16": (4, 16), "float8": (10, 8)}
_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


class FakeCudaTensor:
    """Looks like a CUDA tensor to DLPack importers; its memory is a host buffer nobody launches
    on (the checks under test raise before any driver call)."""

    def __init__(self, shape, dtype="bfloat16", strides=None, device_id=0):
        code, bits = _CODES[dtype]
        self.shape = tuple(shape)
        if strides is None:
            strides, acc = [], 1
            for d in reversed(self.shape):
                strides.insert(0, acc)
                acc *= d
        self._strides = tuple(strides)
        span = 1 + sum((d - 1) * s for d, s in zip(self.shape, self._strides) if d > 0)
        self._buf = np.zeros(max(span, 1) * bits // 8 + 64, np.uint8)
        addr = (self._buf.ctypes.data + 63) // 64 * 64
        n = len(self.shape)
        self._shape_arr = (ctypes.c_int64 * max(n, 1))(*self.shape)
        self._stride_arr = (ctypes.c_int64 * max(n, 1))(*self._strides)
        self._dtype = _DLDataType(code, bits, 1)
        self._addr, self._device_id, self._keep = addr, device_id, []

    def __dlpack_device__(self):
        return (2, self._device_id)

    def __dlpack__(self, stream=None, **kwargs):
        if "max_version" in kwargs and kwargs["max_version"] is not None:
            pass  # a legacy capsule is always acceptable
        mt = _DLManagedTensor()
        mt.dl_tensor = _DLTensor(self._addr, _DLDevice(2, self._device_id), len(self.shape), self._dtype,
                                 self._shape_arr, self._stride_arr, 0)
        mt.deleter = None
        self._keep.append(mt)
        return _capsule_new(ctypes.addressof(mt), b"dltensor", None)


@pytest.fixture
def fake_cuda():
    return FakeCudaTensor


os.environ.setdefault("SHAPEJIT_TEST", "1")
