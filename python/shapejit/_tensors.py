"""Tensor plumbing shared by the ops: the stream a call runs on, torch's FP8 dtype, allocation.

torch is optional: it is imported only when a tensor argument is a torch tensor or an op has to
allocate its output.
"""

from __future__ import annotations

import sys
from typing import Any

from .errors import InvalidArgument


def torch_module():
    """torch if it is importable, else None."""
    try:
        import torch  # noqa: PLC0415

        return torch
    except ImportError:
        return None


def _is_torch(x: Any) -> bool:
    t = sys.modules.get("torch")
    return t is not None and isinstance(x, t.Tensor)


_FP8: tuple = ()


def _fp8_dtypes() -> tuple:
    global _FP8
    if not _FP8:
        t = sys.modules["torch"]
        _FP8 = tuple(getattr(t, n) for n in ("float8_e4m3fn", "float8_e4m3fnuz") if hasattr(t, n))
    return _FP8


def dl(x: Any) -> Any:
    """The object to hand to the extension, without a copy: torch FP8 tensors travel as a uint8
    view (DLPack exporters do not all carry float8 codes) and tensors that require grad as a
    detached alias (torch refuses to export them); everything else as it is."""
    if _is_torch(x):
        if x.requires_grad:
            x = x.detach()
        if x.dtype in _fp8_dtypes():
            return x.view(sys.modules["torch"].uint8)
    return x


def _torch_stream(device_index: int) -> int:
    t = sys.modules["torch"]
    raw = getattr(t._C, "_cuda_getCurrentRawStream", None)   # what Triton uses: no Stream object
    if raw is not None:
        return int(raw(device_index))
    return int(t.cuda.current_stream(device_index).cuda_stream)


def stream_handle(stream: Any, *tensors: Any) -> int:
    """The CUDA stream a call runs on, as an integer handle.

    stream=None: for torch tensors torch's current stream on their device, for CuPy arrays
    CuPy's current stream, else (or with no tensor to go by) torch's current stream on the
    current device when torch is loaded and has CUDA, else the legacy default stream (0). An int
    is a raw CUstream; objects with ``cuda_stream`` (torch.cuda.Stream) or ``ptr``
    (cupy.cuda.Stream) give theirs.
    """
    if stream is None:
        for x in tensors:
            if _is_torch(x):
                if x.is_cuda:
                    return _torch_stream(x.get_device())
                break
            cp = sys.modules.get("cupy")
            if cp is not None and isinstance(x, cp.ndarray):
                return int(cp.cuda.get_current_stream().ptr)
        t = sys.modules.get("torch")
        if t is not None and t.cuda.is_available() and t.cuda.is_initialized():
            return _torch_stream(t.cuda.current_device())
        return 0
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr"):
        if hasattr(stream, attr):
            return int(getattr(stream, attr))
    raise InvalidArgument(f"stream: expected None, an int CUstream, a torch.cuda.Stream or a cupy Stream; "
                          f"got {type(stream).__name__}")


def need_torch(what: str):
    """torch, or a clear error saying the allocating form needs it."""
    t = torch_module()
    if t is None:
        raise InvalidArgument(f"{what}: the allocating form returns torch tensors and torch is not installed; "
                              f"pass out= (any DLPack CUDA tensor, e.g. CuPy) instead")
    return t


def device_of(x: Any):
    """The torch device of a tensor argument (for allocating outputs beside it)."""
    t = need_torch("allocating an output")
    if _is_torch(x):
        return x.device
    return t.device("cuda", t.cuda.current_device())


def align4(n: int) -> int:
    return (n + 3) // 4 * 4


def m_major_empty(rows: int, cols: int, device, torch):
    """FP32 [rows, cols] in shapejit's M-major scale layout (strides (1, align4(rows)))."""
    return torch.empty_strided((rows, cols), (1, align4(rows)), dtype=torch.float32, device=device)
