"""MLA decoding over a paged KV cache, named and shaped after FlashMLA's Python API:
``get_mla_metadata`` + ``flash_mla_with_kvcache`` (dense decode, h_kv = 1).

Layouts (runtime/mla/include/shapejit/runtime/mla.hpp, docs/mla.md):
  q            BF16 ``[batch, s_q, h_q, 576]`` (512 latent + 64 RoPE dims)
  k_cache      ``[num_blocks, page_size, 1, 576]`` BF16, or ``[num_blocks, page_size, 1, 656]``
               uint8/float8 FP8 rows (512 E4M3, 4 FP32 scales, 64 BF16 RoPE dims)
  block_table  int32 ``[batch, max_blocks_per_seq]``;  cache_seqlens int32 ``[batch]``
  out          BF16 ``[batch, s_q, h_q, 512]``;  lse FP32 ``[batch, h_q, s_q]`` (natural log)
Query i of a request sees the first ``seqlen - s_q + 1 + i`` keys (FlashMLA's ``causal=True``).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from . import _shapejit as _C
from ._tensors import device_of, dl, need_torch, stream_handle
from .errors import InvalidArgument, Unsupported

__all__ = ["get_mla_metadata", "flash_mla_with_kvcache", "mla_buffer_sizes"]


def mla_buffer_sizes(batch: int, num_heads_q: int, seq_q: int = 1, page_size: int = 64, kv_dtype: str = "bf16",
                     *, load_path: str = "cp_async", runtime: Optional[_C.Runtime] = None) -> dict:
    """Bytes of the metadata and workspace buffers on the current device: a dict with
    metadata_bytes, workspace_bytes, num_parts, split_begin_offset (for out= forms and CuPy)."""
    return _C.mla_buffer_sizes(batch, num_heads_q, seq_q, page_size, kv_dtype, load_path, runtime)


def get_mla_metadata(cache_seqlens: Any, num_q_tokens_per_head_k: int, num_heads_k: int = 1, *, seq_q: int = 1,
                     page_size: int = 64, kv_dtype: str = "bf16", load_path: str = "cp_async", out: Any = None,
                     stream: Any = None, runtime: Optional[_C.Runtime] = None) -> Tuple[Any, Any]:
    """The split-KV schedule of a decode step, computed on the GPU from ``cache_seqlens``:
    FlashMLA's ``get_mla_metadata(cache_seqlens, s_q * h_q // h_kv, h_kv)``.

    Returns ``(tile_scheduler_metadata, num_splits)``: one int32 buffer holding the per-SM-part
    schedule and, as a view into it, ``num_splits`` [batch + 1] (the first split of each request,
    cumulative, like FlashMLA's). Graph-capturable; reuse across layers while the lengths stay.
    Differences: h_kv must be 1; ``seq_q`` (s_q) is given separately because the kernels are
    specialized for h_q and s_q; ``page_size`` and ``kv_dtype`` must match the decode call.
    ``out=``: a contiguous CUDA buffer of at least ``mla_buffer_sizes(...)["metadata_bytes"]``.
    """
    if num_heads_k != 1:
        raise Unsupported(f"num_heads_k: shapejit's MLA decode has one KV head (h_kv = 1), got {num_heads_k}")
    if num_q_tokens_per_head_k % seq_q:
        raise InvalidArgument(f"num_q_tokens_per_head_k ({num_q_tokens_per_head_k}) must be seq_q * h_q "
                              f"(seq_q = {seq_q})")
    heads = num_q_tokens_per_head_k // seq_q
    batch = cache_seqlens.shape[0]
    sizes = _C.mla_buffer_sizes(batch, heads, seq_q, page_size, kv_dtype, load_path, runtime)
    if out is None:
        torch = need_torch("get_mla_metadata")
        out = torch.empty(((sizes["metadata_bytes"] + 3) // 4,), dtype=torch.int32, device=device_of(cache_seqlens))
    _C.mla_decode_metadata(dl(cache_seqlens), dl(out), heads, seq_q, page_size, kv_dtype, load_path,
                           stream_handle(stream, cache_seqlens), runtime)
    begin = sizes["split_begin_offset"] // 4
    num_splits = out[begin:begin + batch + 1] if _sliceable(out) else None
    return out, num_splits


def _sliceable(x: Any) -> bool:
    return hasattr(x, "__getitem__") and hasattr(x, "shape") and len(x.shape) == 1


def flash_mla_with_kvcache(q: Any, k_cache: Any, block_table: Any, cache_seqlens: Any, head_dim_v: int,
                           tile_scheduler_metadata: Any, num_splits: Any = None, softmax_scale: Optional[float] = None,
                           causal: bool = False, *, out: Optional[Tuple[Any, Any]] = None, workspace: Any = None,
                           load_path: str = "cp_async", stream: Any = None,
                           runtime: Optional[_C.Runtime] = None) -> Tuple[Any, Any]:
    """MLA decode attention: FlashMLA's ``flash_mla_with_kvcache(q, k_cache, block_table,
    cache_seqlens, head_dim_v, tile_scheduler_metadata, num_splits, softmax_scale, causal)``.

    Returns ``(out, lse)``: BF16 ``[batch, s_q, h_q, 512]`` and FP32 ``[batch, h_q, s_q]``.
    head_dim_v must be 512; softmax_scale defaults to 1/sqrt(576); with s_q > 1 the mask is
    causal (FlashMLA's causal=True), so causal=False is refused there. ``num_splits`` is accepted
    for FlashMLA's signature and not read (the metadata buffer holds it). ``out=(out, lse)`` and
    ``workspace=`` (``mla_buffer_sizes(...)["workspace_bytes"]`` bytes) avoid allocation; a
    request of length 0 gives out = 0 and lse = +inf.
    """
    if head_dim_v != 512:
        raise Unsupported(f"head_dim_v: shapejit's MLA decode has V = the first 512 dims, got {head_dim_v}")
    batch, seq_q, heads = q.shape[0], q.shape[1], q.shape[2]
    if seq_q > 1 and not causal:
        raise Unsupported("causal=False with s_q > 1: shapejit's MLA decode masks causally (query i sees the "
                          "first seqlen - s_q + 1 + i keys); pass causal=True")
    torch = None
    if out is None or workspace is None:
        torch = need_torch("flash_mla_with_kvcache")
    dev = device_of(q) if torch is not None else None
    if out is None:
        o = torch.empty((batch, seq_q, heads, 512), dtype=torch.bfloat16, device=dev)
        lse = torch.empty((batch, heads, seq_q), dtype=torch.float32, device=dev)
    else:
        o, lse = out
    if workspace is None:
        fp8 = k_cache.dtype != torch.bfloat16
        sizes = _C.mla_buffer_sizes(batch, heads, seq_q, k_cache.shape[1], "fp8" if fp8 else "bf16", load_path,
                                    runtime)
        workspace = torch.empty((sizes["workspace_bytes"],), dtype=torch.uint8, device=dev)
    _C.mla_decode(dl(q), dl(k_cache), dl(block_table), dl(cache_seqlens), dl(o), dl(lse),
                  dl(tile_scheduler_metadata), dl(workspace), float(softmax_scale or 0.0), load_path,
                  stream_handle(stream, q), runtime)
    return o, lse
