"""The MoE layer on one GPU (runtime/moe, docs/moe.md): routing layout -> dispatch (gather + FP8
quantization) -> gate/up grouped GEMM -> SwiGLU + FP8 quantization -> down grouped GEMM ->
combine. :func:`moe_layer` runs them all; the step functions let a caller put its own
expert-parallel exchange between routing/dispatch and the GEMMs (``MoeWorkspace.views`` exposes
the intermediates as DLPack tensors).

Weights are FP8 E4M3 with 128x128 FP32 block scales (DeepGEMM's B format):
``w13 [E, 2I, H]`` (rows [0, I) gate, [I, 2I) up), ``w13_scales [E, 2I/128, H/128]``,
``w2 [E, H, I]``, ``w2_scales [E, H/128, I/128]``. ``topk_idx`` int32 ``[T, k]`` holds global
expert ids (-1 dropped; ids outside ``expert_begin .. expert_begin + E - 1`` are not routed
here); ``topk_weights`` FP32 ``[T, k]``; ``x`` and the output BF16 ``[T, H]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from . import _shapejit as _C
from ._shapejit import MoeConfig, MoeWorkspace
from ._tensors import device_of, dl, need_torch, stream_handle

__all__ = ["MoeConfig", "MoeWorkspace", "MoeWeights", "moe_layer", "moe_route", "moe_dispatch", "moe_gate_up",
           "moe_swiglu", "moe_down", "moe_combine"]


class MoeWeights(NamedTuple):
    """The four expert weight tensors of a layer (see the module docstring for shapes)."""

    w13: Any
    w13_scales: Any
    w2: Any
    w2_scales: Any

    def _dl(self):
        return dl(self.w13), dl(self.w13_scales), dl(self.w2), dl(self.w2_scales)


def _workspace(config: MoeConfig, workspace: Optional[MoeWorkspace], tokens: int) -> MoeWorkspace:
    return workspace if workspace is not None else MoeWorkspace(config, max(tokens, 1))


def moe_layer(config: MoeConfig, x: Any, topk_idx: Any, topk_weights: Any, weights: MoeWeights, out: Any = None, *,
              workspace: Optional[MoeWorkspace] = None, stream: Any = None,
              runtime: Optional[_C.Runtime] = None) -> Any:
    """``out[t] = sum_j topk_weights[t, j] * expert_{topk_idx[t, j]}(x[t])`` with SwiGLU experts
    (FP8 GEMMs, FP32 accumulation, BF16 out). ``workspace``: reuse a MoeWorkspace (needed for CUDA
    graphs: allocating one is a cuMemAlloc); ``out=None`` allocates with torch."""
    if out is None:
        torch = need_torch("moe_layer")
        out = torch.empty((x.shape[0], config.hidden), dtype=torch.bfloat16, device=device_of(x))
    ws = _workspace(config, workspace, x.shape[0])
    _C.moe_layer(config, dl(x), dl(topk_idx), dl(topk_weights), *weights._dl(), dl(out), ws,
                 stream_handle(stream, x), runtime)
    return out


def moe_route(config: MoeConfig, topk_idx: Any, workspace: MoeWorkspace, *, stream: Any = None,
              runtime: Optional[_C.Runtime] = None) -> None:
    """Step 1: the routing layout (workspace views tokens_per_expert, row_begin, m_indices,
    row_to_token, token_slot) from topk_idx."""
    _C.moe_route(config, dl(topk_idx), workspace, stream_handle(stream, topk_idx), runtime)


def moe_dispatch(config: MoeConfig, x: Any, workspace: MoeWorkspace, *, stream: Any = None,
                 runtime: Optional[_C.Runtime] = None) -> None:
    """Step 2: gather x's rows expert-major and quantize them to FP8 (workspace xq, xq_scales)."""
    _C.moe_dispatch(config, dl(x), workspace, stream_handle(stream, x), runtime)


def moe_gate_up(config: MoeConfig, num_tokens: int, weights: MoeWeights, workspace: MoeWorkspace, *,
                stream: Any = None, runtime: Optional[_C.Runtime] = None) -> None:
    """Step 3: h = xq . w13[e]^T per expert (grouped FP8 GEMM, contiguous or masked)."""
    _C.moe_gate_up(config, num_tokens, *weights._dl(), workspace, stream_handle(stream, weights.w13), runtime)


def moe_swiglu(config: MoeConfig, num_tokens: int, workspace: MoeWorkspace, *, stream: Any = None,
               runtime: Optional[_C.Runtime] = None) -> None:
    """Step 4: silu(gate) * up, quantized to FP8 (workspace aq, aq_scales)."""
    _C.moe_swiglu(config, num_tokens, workspace, stream_handle(stream), runtime)


def moe_down(config: MoeConfig, num_tokens: int, weights: MoeWeights, workspace: MoeWorkspace, *,
             stream: Any = None, runtime: Optional[_C.Runtime] = None) -> None:
    """Step 5: y = aq . w2[e]^T per expert."""
    _C.moe_down(config, num_tokens, *weights._dl(), workspace, stream_handle(stream, weights.w13), runtime)


def moe_combine(config: MoeConfig, topk_weights: Any, out: Any, workspace: MoeWorkspace, *, stream: Any = None,
                runtime: Optional[_C.Runtime] = None) -> Any:
    """Step 6: out[t] = sum_j topk_weights[t, j] * y[token_slot[t, j]] (FP32, in j order)."""
    _C.moe_combine(config, dl(topk_weights), dl(out), workspace, stream_handle(stream, out), runtime)
    return out
