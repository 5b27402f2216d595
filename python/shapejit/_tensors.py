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


def dl(x: Any) -> Any:
    """The object to hand to the extension: torch FP8 tensors travel as a uint8 view (DLPack
    exporters do not all carry float8 codes); everything else as it is (DLPack, no copy)."""
    if _is_torch(x) and x.dtype in _fp8_dtypes():
        return x.view(sys.modules["torch"].uint8)
    return x


def _fp8_dtypes():
    t = sys.modules.get("torch")
    return tuple(getattr(t, n) for n in ("float8_e4m3fn", "float8_e4m3fnuz") if hasattr(t, n))


def stream_handle(stream: Any, *tensors: Any) -> int:
    """The CUDA stream a call runs on, as an integer handle.

    stream=None: torch's current stream on the tensors' device when a tensor is a torch tensor
    (or torch is loaded), else the legacy default stream (0). An int is a raw CUstream; objects
    with ``cuda_stream`` (torch.cuda.Stream) or ``ptr`` (cupy.cuda.Stream) give theirs.
    """
    if stream is None:
        t = sys.modules.get("torch")
        if t is None or not t.cuda.is_available():
            return 0
        device = next((x.device for x in tensors if _is_torch(x) and x.is_cuda), None)
        return int(t.cuda.current_stream(device).cuda_stream)
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
