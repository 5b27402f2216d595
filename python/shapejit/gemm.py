"""FP8 quantization and GEMMs, named and shaped after DeepGEMM's Python API.

Every op takes any DLPack CUDA tensor (torch, CuPy, ...) without copying, runs on ``stream``
(default: torch's current stream) with kernels from ``runtime`` (default: the global runtime),
and has an ``out=``/``d=`` form; without it the output is allocated with torch and returned.
Layouts (docs: runtime/gemm/include/shapejit/runtime/gemm.hpp, scale_layout.hpp):

* FP8 tensors: ``torch.float8_e4m3fn`` (or uint8 holding E4M3 bits).
* A scales (1x128 per row): FP32 ``[M, K/128]`` **M-major**, strides ``(1, s)`` with ``s`` a
  multiple of 4 >= M: DeepGEMM's MN-major TMA-aligned layout (``get_mn_major_tma_aligned_tensor``).
  DeepGEMM converts other layouts inside the call; shapejit never copies, so convert once with
  :func:`m_major_scales`, or quantize with ``scale_layout="m_major"``.
* B scales (128x128 blocks): FP32 ``[ceil(N/128), K/128]`` row-major (grouped: ``[G, ...]``).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from . import _shapejit as _C
from ._tensors import align4, device_of, dl, need_torch, stream_handle

__all__ = [
    "per_token_group_quant_fp8",
    "m_major_scales",
    "fp8_gemm_nt",
    "bf16_gemm_nt",
    "m_grouped_fp8_gemm_nt_contiguous",
    "m_grouped_fp8_gemm_nt_masked",
]


def per_token_group_quant_fp8(x: Any, group_size: int = 128, *, scale_layout: str = "row_major",
                              out: Optional[Tuple[Any, Any]] = None, stream: Any = None,
                              runtime: Optional[_C.Runtime] = None) -> Tuple[Any, Any]:
    """Per-token-group FP8 quantization: BF16 ``x [M, K]`` -> (``q`` E4M3 ``[M, K]``, FP32 scales).

    One scale per 1 x group_size group: ``scale = max(amax, 1e-4) / 448``, ``q = x / scale``
    rounded to nearest even with saturation. ``scale_layout="row_major"``: scales ``[M, K/G]``
    contiguous (sglang/vLLM ``per_token_group_quant_fp8``); ``"m_major"``: ``[M, K/G]`` with
    strides ``(1, align4(M))``, which :func:`fp8_gemm_nt` takes as A scales directly.
    ``out=(q, scales)`` writes into given tensors.
    """
    if out is None:
        torch = need_torch("per_token_group_quant_fp8")
        m, k = x.shape
        dev = device_of(x)
        q = torch.empty((m, k), dtype=torch.float8_e4m3fn, device=dev)
        groups = k // group_size if group_size > 0 else 0
        if scale_layout == "m_major":
            s = torch.empty_strided((m, groups), (1, align4(m)), dtype=torch.float32, device=dev)
        else:
            s = torch.empty((m, groups), dtype=torch.float32, device=dev)
    else:
        q, s = out
    _C.quantize_fp8_per_token_group(dl(x), dl(q), dl(s), group_size, scale_layout, stream_handle(stream, x),
                                    runtime)
    return q, s


def m_major_scales(scales: Any) -> Any:
    """A copy of FP32 scales ``[M, K/128]`` (or ``[G, M, K/128]``, masked GEMM) in the M-major
    layout the FP8 GEMMs take. torch tensors only; a no-copy path is quantizing with
    ``scale_layout="m_major"``."""
    torch = need_torch("m_major_scales")
    if scales.dim() == 2:
        m, kb = scales.shape
        out = torch.empty_strided((m, kb), (1, align4(m)), dtype=torch.float32, device=scales.device)
    elif scales.dim() == 3:
        g, m, kb = scales.shape
        out = torch.empty_strided((g, m, kb), (m, 1, align4(g * m)), dtype=torch.float32, device=scales.device)
    else:
        raise _invalid(f"scales: needs 2 or 3 dimensions, got shape {list(scales.shape)}")
    out.copy_(scales)
    return out


def _invalid(msg: str):
    from .errors import InvalidArgument  # noqa: PLC0415

    return InvalidArgument(msg)


def fp8_gemm_nt(a: Tuple[Any, Any], b: Tuple[Any, Any], d: Any = None, *, stream: Any = None,
                runtime: Optional[_C.Runtime] = None) -> Any:
    """``d = a @ b.T`` in BF16 from FP8 operands with fine-grained scales: DeepGEMM's
    ``fp8_gemm_nt((a, sfa), (b, sfb), d)``.

    a: (FP8 ``[M, K]``, A scales ``[M, K/128]`` M-major); b: (FP8 ``[N, K]``, FP32
    ``[ceil(N/128), K/128]``); d: BF16 ``[M, N]`` (row strides may exceed the widths). K a
    multiple of 128. Differences from DeepGEMM: no ``c`` accumulator, A scales must already be
    M-major (no hidden copy), ``d`` may be omitted (allocated with torch and returned).
    """
    (a_t, sfa), (b_t, sfb) = a, b
    if d is None:
        torch = need_torch("fp8_gemm_nt")
        d = torch.empty((a_t.shape[0], b_t.shape[0]), dtype=torch.bfloat16, device=device_of(a_t))
    _C.gemm_fp8_nt(dl(a_t), dl(sfa), dl(b_t), dl(sfb), dl(d), stream_handle(stream, a_t), runtime)
    return d


def bf16_gemm_nt(a: Any, b: Any, d: Any = None, *, out_dtype: Any = None, stream: Any = None,
                 runtime: Optional[_C.Runtime] = None) -> Any:
    """``d = a @ b.T`` from BF16 ``a [M, K]`` and ``b [N, K]`` with FP32 accumulation; ``d`` BF16 or
    FP32 ``[M, N]`` (DeepGEMM's ``bf16_gemm_nt(a, b, d)``, without ``c``). K a multiple of 64.
    Without ``d``: allocated as ``out_dtype`` (default torch.bfloat16)."""
    if d is None:
        torch = need_torch("bf16_gemm_nt")
        d = torch.empty((a.shape[0], b.shape[0]), dtype=out_dtype or torch.bfloat16, device=device_of(a))
    _C.gemm_bf16_nt(dl(a), dl(b), dl(d), stream_handle(stream, a), runtime)
    return d


def m_grouped_fp8_gemm_nt_contiguous(a: Tuple[Any, Any], b: Tuple[Any, Any], d: Any, m_indices: Any, *,
                                     align_m: int = 128, stream: Any = None,
                                     runtime: Optional[_C.Runtime] = None) -> Any:
    """Grouped FP8 GEMM over expert-major rows: DeepGEMM's
    ``m_grouped_fp8_gemm_nt_contiguous((a, sfa), (b, sfb), d, m_indices)``.

    a: (FP8 ``[M_sum, K]``, A scales ``[M_sum, K/128]`` M-major); b: (FP8 ``[G, N, K]``, FP32
    ``[G, ceil(N/128), K/128]``); d: BF16 ``[M_sum, N]`` or None (allocated); m_indices: int32
    ``[M_sum]``, the group of each row, -1 for padding rows (their ``d`` rows are left
    unwritten). Each group's rows start on a multiple of ``align_m`` (64, 128 or 256; DeepGEMM's
    ``get_m_alignment_for_contiguous_layout()`` is 128).
    """
    (a_t, sfa), (b_t, sfb) = a, b
    if d is None:
        torch = need_torch("m_grouped_fp8_gemm_nt_contiguous")
        d = torch.empty((a_t.shape[0], b_t.shape[1]), dtype=torch.bfloat16, device=device_of(a_t))
    _C.gemm_fp8_grouped_contiguous(dl(a_t), dl(sfa), dl(b_t), dl(sfb), dl(d), dl(m_indices), align_m,
                                   stream_handle(stream, a_t), runtime)
    return d


def m_grouped_fp8_gemm_nt_masked(a: Tuple[Any, Any], b: Tuple[Any, Any], d: Any, masked_m: Any,
                                 expected_m: int, *, stream: Any = None,
                                 runtime: Optional[_C.Runtime] = None) -> Any:
    """Grouped FP8 GEMM over per-group padded rows (decode, CUDA graphs): DeepGEMM's
    ``m_grouped_fp8_gemm_nt_masked((a, sfa), (b, sfb), d, masked_m, expected_m)``.

    a: (FP8 ``[G, M_max, K]``, A scales ``[G, M_max, K/128]``); b: (FP8 ``[G, N, K]``, FP32
    ``[G, ceil(N/128), K/128]``); d: BF16 ``[G, M_max, N]`` or None; masked_m: int32 ``[G]`` on
    the device, rows in use per group (read on the GPU: no host sync); expected_m: a host hint of
    typical rows per group that picks the kernel. Difference from DeepGEMM: the A scales are one
    M-major block over all G*M_max rows, strides ``(M_max, 1, s)`` with ``s >= G*M_max`` a
    multiple of 4 (:func:`m_major_scales` makes it from ``[G, M_max, K/128]``). Rows of ``d``
    past ``masked_m`` hold unspecified values.
    """
    (a_t, sfa), (b_t, sfb) = a, b
    if d is None:
        torch = need_torch("m_grouped_fp8_gemm_nt_masked")
        d = torch.empty((a_t.shape[0], a_t.shape[1], b_t.shape[1]), dtype=torch.bfloat16, device=device_of(a_t))
    _C.gemm_fp8_grouped_masked(dl(a_t), dl(sfa), dl(b_t), dl(sfb), dl(d), dl(masked_m), expected_m,
                               stream_handle(stream, a_t), runtime)
    return d
