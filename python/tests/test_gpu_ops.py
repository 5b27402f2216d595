"""Every op on a Hopper GPU through torch, against the C++ host references (bit-exact FP8
quantization, FP32 MLA decode with its error bound, routing) or a float64 reference on the
dequantized inputs (GEMMs, MoE layer), on fresh random inputs with outputs poisoned first; one
CUDA-graph capture. Skipped, with the reason, without torch, a CUDA device or a driver.

Tolerances are the C++ GPU tests' (tests/gemm, tests/moe, tests/mla): calc_diff (DeepGEMM's
1 - 2·Σxy/Σ(x²+y²)) < 1e-3 for FP8 GEMMs and the MoE layer (FP8 rounding of the operands
dominates), < 1e-5 for BF16 GEMMs (FP32 accumulation, one BF16 rounding of the output); MLA's
per-element bound is ported from tests/mla/mla_gpu_test.cpp (its header derives it)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import shapejit
from shapejit import _shapejit as _C

from conftest import requires_gpu

pytestmark = requires_gpu

SEED = int(os.environ.get("SHAPEJIT_TEST_SEED", np.random.SeedSequence().entropy % (2**31)))


@pytest.fixture(autouse=True)
def seeded(record_property):
    import torch

    torch.manual_seed(SEED)
    record_property("seed", SEED)   # a failure can be replayed with SHAPEJIT_TEST_SEED
    yield


def calc_diff(x, y):
    x, y = x.double(), y.double()
    denom = (x * x + y * y).sum()
    return 0.0 if denom == 0 else float(1 - 2 * (x * y).sum() / denom)


def bf16_bits(t):
    import torch

    return t.contiguous().view(torch.int16).cpu().numpy().view(np.uint16)


def e4m3_to_f64(q):
    import torch

    return q.view(torch.float8_e4m3fn).double()


def quant_blocks_128x128(w):
    """FP8 weights with 128x128 FP32 block scales (the GEMMs' B format), made on the host side of
    the test: [.., N, K] -> (E4M3 [.., N, K], scales [.., ceil(N/128), K/128])."""
    import torch

    *lead, n, k = w.shape
    nb = (n + 127) // 128
    pad = torch.zeros(*lead, nb * 128, k, dtype=torch.float32, device=w.device)
    pad[..., :n, :] = w.float()
    blocks = pad.view(*lead, nb, 128, k // 128, 128)
    amax = blocks.abs().amax(dim=(-3, -1)).clamp(min=1e-4)
    scale = amax / 448.0
    q = (blocks / scale[..., :, None, :, None]).clamp(-448, 448).view(*lead, nb * 128, k)[..., :n, :]
    return q.to(torch.float8_e4m3fn).contiguous(), scale.contiguous()


def dequant_a(q, s_m_major):
    return e4m3_to_f64(q) * s_m_major.double().repeat_interleave(128, dim=-1)[..., : q.shape[-1]]


def dequant_b(q, s):
    n, k = q.shape[-2:]
    full = s.double().repeat_interleave(128, dim=-2)[..., :n, :].repeat_interleave(128, dim=-1)[..., :k]
    return e4m3_to_f64(q) * full


def test_quantization_is_bit_exact_with_the_host_reference():
    import torch

    x = (torch.randn(100, 512, device="cuda") * 3).to(torch.bfloat16)
    for layout in ("row_major", "m_major"):
        q, s = shapejit.per_token_group_quant_fp8(x, 128, scale_layout=layout)
        q.view(torch.uint8).fill_(0x7F)
        s.fill_(float("nan"))
        shapejit.per_token_group_quant_fp8(x, 128, scale_layout=layout, out=(q, s))
        torch.cuda.synchronize()
        ref_q, ref_s = _C.reference_quantize_fp8(bf16_bits(x), 128, layout)
        np.testing.assert_array_equal(q.view(torch.uint8).cpu().numpy(), ref_q)
        got_s = s.t().contiguous() if layout == "m_major" else s
        want_s = torch.from_numpy(ref_s)
        if layout == "m_major":   # stored [K/128][align4(M)]: drop the padding rows
            want_s = want_s.view(512 // 128, -1)[:, :100]
        np.testing.assert_array_equal(got_s.cpu().numpy().ravel(), want_s.numpy().ravel())


def test_fp8_gemm_nt_matches_float64():
    import torch

    m, n, k = 200, 384, 512
    a = torch.randn(m, k, device="cuda").to(torch.bfloat16)
    a_q, a_s = shapejit.per_token_group_quant_fp8(a, 128, scale_layout="m_major")
    b_q, b_s = quant_blocks_128x128(torch.randn(n, k, device="cuda"))
    d = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
    shapejit.fp8_gemm_nt((a_q, a_s), (b_q, b_s), d)
    want = dequant_a(a_q, a_s) @ dequant_b(b_q, b_s).T
    torch.cuda.synchronize()
    assert not d.isnan().any()
    assert calc_diff(d, want) < 1e-3
    # Row-major A scales are converted explicitly, never silently.
    _, a_s_rows = shapejit.per_token_group_quant_fp8(a, 128)
    with pytest.raises(shapejit.InvalidArgument, match="M-major"):
        shapejit.fp8_gemm_nt((a_q, a_s_rows), (b_q, b_s))
    again = shapejit.fp8_gemm_nt((a_q, shapejit.m_major_scales(a_s_rows)), (b_q, b_s))
    torch.cuda.synchronize()
    assert torch.equal(again, d)


def test_bf16_gemm_nt_matches_float64_in_both_output_types():
    import torch

    m, n, k = 130, 256, 320
    a = torch.randn(m, k, device="cuda").to(torch.bfloat16)
    b = torch.randn(n, k, device="cuda").to(torch.bfloat16)
    want = a.double() @ b.double().T
    for dtype in (torch.bfloat16, torch.float32):
        d = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
        shapejit.bf16_gemm_nt(a, b, d)
        torch.cuda.synchronize()
        assert not d.isnan().any()
        assert calc_diff(d, want) < 1e-5


def test_grouped_contiguous_gemm_per_group_and_padding_rows_untouched():
    import torch

    g, n, k = 3, 256, 256
    rows = [128, 256, 128]
    m_sum = sum(rows) + 128   # one block of padding rows at the end
    m_indices = torch.full((m_sum,), -1, dtype=torch.int32, device="cuda")
    start = 0
    for gi, r in enumerate(rows):
        m_indices[start:start + r] = gi
        start += r
    a = torch.randn(m_sum, k, device="cuda").to(torch.bfloat16)
    a_q, a_s = shapejit.per_token_group_quant_fp8(a, 128, scale_layout="m_major")
    b_q, b_s = quant_blocks_128x128(torch.randn(g, n, k, device="cuda"))
    d = torch.full((m_sum, n), float("nan"), dtype=torch.bfloat16, device="cuda")
    shapejit.m_grouped_fp8_gemm_nt_contiguous((a_q, a_s), (b_q, b_s), d, m_indices)
    torch.cuda.synchronize()
    a_deq, start = dequant_a(a_q, a_s), 0
    for gi, r in enumerate(rows):
        want = a_deq[start:start + r] @ dequant_b(b_q[gi], b_s[gi]).T
        assert calc_diff(d[start:start + r], want) < 1e-3, f"group {gi}"
        start += r
    assert d[start:].isnan().all()   # padding rows are skipped


def test_grouped_masked_gemm_rows_in_use():
    import torch

    g, m_max, n, k = 3, 128, 256, 384
    masked = torch.tensor([50, 128, 0], dtype=torch.int32, device="cuda")
    a = torch.randn(g * m_max, k, device="cuda").to(torch.bfloat16)
    a_q, a_s = shapejit.per_token_group_quant_fp8(a, 128, scale_layout="m_major")
    # [G*M_max, K/128] M-major is the masked GEMM's [G, M_max, K/128] with strides (M_max, 1, s).
    a_s3 = a_s.as_strided((g, m_max, k // 128), (m_max, 1, a_s.stride(1)))
    b_q, b_s = quant_blocks_128x128(torch.randn(g, n, k, device="cuda"))
    d = torch.full((g, m_max, n), float("nan"), dtype=torch.bfloat16, device="cuda")
    shapejit.m_grouped_fp8_gemm_nt_masked((a_q.view(g, m_max, k), a_s3), (b_q, b_s), d, masked, expected_m=64)
    torch.cuda.synchronize()
    a_deq = dequant_a(a_q, a_s).view(g, m_max, k)
    for gi, used in enumerate(masked.tolist()):
        if used:
            want = a_deq[gi, :used] @ dequant_b(b_q[gi], b_s[gi]).T
            assert calc_diff(d[gi, :used], want) < 1e-3, f"group {gi}"


def mla_out_tolerance(ref, abs_out, max_abs_logit, n):
    """tests/mla/mla_gpu_test.cpp's per-element bound (derived in its header comment)."""
    u = 2.0 ** -8
    eta = (20.0 * max_abs_logit + n / 64.0 + np.log2(np.maximum(n, 1)) + 2.0) * 2.0 ** -20
    c = 3.0 * n * 2.0 ** -26 + 2.0 ** -19
    a_factor = np.expm1(np.log1p(u) + 2.0 * eta + np.log1p(c))
    return u * np.abs(ref) + (1.0 + u) * a_factor * abs_out + 2.0 ** -100


def test_mla_decode_matches_the_host_reference():
    import torch

    batch, s_q, h_q, page = 4, 2, 64, 64
    seqlens = torch.tensor([0, 1, 100, 700], dtype=torch.int32, device="cuda")
    max_blocks = 12
    num_blocks = batch * max_blocks + 3
    block_table = torch.randperm(num_blocks, device="cuda")[: batch * max_blocks].view(batch, max_blocks).int()
    k_cache = (torch.randn(num_blocks, page, 1, 576, device="cuda") * 0.5).to(torch.bfloat16)
    q = torch.randn(batch, s_q, h_q, 576, device="cuda").to(torch.bfloat16)
    meta, num_splits = shapejit.get_mla_metadata(seqlens, s_q * h_q, 1, seq_q=s_q, page_size=page)
    out = torch.full((batch, s_q, h_q, 512), float("nan"), dtype=torch.bfloat16, device="cuda")
    lse = torch.full((batch, h_q, s_q), float("nan"), dtype=torch.float32, device="cuda")
    shapejit.flash_mla_with_kvcache(q, k_cache, block_table, seqlens, 512, meta, num_splits, causal=True,
                                    out=(out, lse))
    torch.cuda.synchronize()
    scale = 1 / math.sqrt(576)
    ref, ref_lse, abs_out, max_logit = _C.reference_mla_decode(
        bf16_bits(q), bf16_bits(k_cache).view(np.uint8), block_table.cpu().numpy(), seqlens.cpu().numpy(), page,
        "bf16", scale)
    got = out.float().cpu().numpy()
    n_keys = np.array([max(0, L - s_q + 1 + i) for L in seqlens.tolist() for i in range(s_q)]).reshape(batch, s_q)
    logit = np.transpose(max_logit, (0, 2, 1))[..., None]   # [b, s_q, h, 1]
    tol = mla_out_tolerance(ref, abs_out, logit, n_keys[:, :, None, None])
    assert (np.abs(got - ref) <= tol).all()
    got_lse = lse.cpu().numpy()
    assert (np.isinf(got_lse) == np.isinf(ref_lse)).all()
    finite = np.isfinite(ref_lse)
    assert (np.abs(got_lse[finite] - ref_lse[finite]) <= 1e-5 * np.maximum(1, np.abs(ref_lse[finite]))).all()
    assert num_splits.shape == (batch + 1,) and int(num_splits[0]) == 0


def test_moe_routing_and_layer():
    import torch

    cfg = shapejit.MoeConfig(hidden=1024, intermediate=512, num_experts=4, top_k=2)
    t, h, i, e = 300, 1024, 512, 4
    topk = torch.randint(-1, 6, (t, 2), dtype=torch.int32, device="cuda")   # ids 4, 5 and -1: not here
    weights = torch.rand(t, 2, device="cuda") * 0.95 + 0.05
    x = torch.randn(t, h, device="cuda").to(torch.bfloat16)
    w13, w13_s = quant_blocks_128x128(torch.randn(e, 2 * i, h, device="cuda") / math.sqrt(h))
    w2, w2_s = quant_blocks_128x128(torch.randn(e, h, i, device="cuda") / math.sqrt(i))
    ws = shapejit.MoeWorkspace(cfg, t)
    shapejit.moe.moe_route(cfg, topk, ws)
    torch.cuda.synchronize()
    views = {k: torch.from_dlpack(v) for k, v in ws.views(t).items()}
    ref = _C.reference_moe_route(cfg, topk.cpu().numpy())
    for name in ("tokens_per_expert", "row_begin", "m_indices", "row_to_token", "token_slot"):
        np.testing.assert_array_equal(views[name].cpu().numpy().ravel(), ref[name], err_msg=name)

    out = torch.full((t, h), float("nan"), dtype=torch.bfloat16, device="cuda")
    shapejit.moe_layer(cfg, x, topk, weights, shapejit.MoeWeights(w13, w13_s, w2, w2_s), out, workspace=ws)
    torch.cuda.synchronize()
    # float64 on the dequantized FP8 inputs, activations quantized at the kernels' points.
    xq, xs = _C.reference_quantize_fp8(bf16_bits(x), 128, "row_major")
    x_deq = e4m3_to_f64(torch.from_numpy(xq)).cuda() * torch.from_numpy(xs).cuda().double().view(t, -1).repeat_interleave(128, 1)
    want = torch.zeros(t, h, dtype=torch.float64, device="cuda")
    for ex in range(e):
        w13_deq, w2_deq = dequant_b(w13[ex], w13_s[ex]), dequant_b(w2[ex], w2_s[ex])
        for j in range(2):
            rows = (topk[:, j] == ex).nonzero().flatten()
            if rows.numel() == 0:
                continue
            gu = x_deq[rows] @ w13_deq.T
            act = torch.nn.functional.silu(gu[:, :i]) * gu[:, i:]
            blocks = act.view(-1, i // 128, 128)
            s = (blocks.abs().amax(-1, keepdim=True).clamp(min=1e-4) / 448.0).float().double()
            act_q = (blocks / s).float().clamp(-448, 448).to(torch.float8_e4m3fn).double() * s
            want[rows] += weights[rows, j, None].double() * (act_q.view(-1, i) @ w2_deq.T)
    assert not out.isnan().any()
    assert calc_diff(out, want) < 1e-3


def test_cuda_graph_capture_and_stream_override():
    import torch

    m, n, k = 128, 256, 256
    a = torch.randn(m, k, device="cuda").to(torch.bfloat16)
    a_q, a_s = shapejit.per_token_group_quant_fp8(a, 128, scale_layout="m_major")
    b_q, b_s = quant_blocks_128x128(torch.randn(n, k, device="cuda"))
    eager = shapejit.fp8_gemm_nt((a_q, a_s), (b_q, b_s))   # loads the kernels before capture
    d = torch.full((m, n), float("nan"), dtype=torch.bfloat16, device="cuda")
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):   # torch's current stream is the capture stream
        shapejit.per_token_group_quant_fp8(a, 128, scale_layout="m_major", out=(a_q, a_s))
        shapejit.fp8_gemm_nt((a_q, a_s), (b_q, b_s), d)
    torch.cuda.synchronize()
    assert d.isnan().all()   # captured, not run
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(d, eager)
    side = torch.cuda.Stream()
    d2 = torch.full_like(d, float("nan"))
    side.wait_stream(torch.cuda.current_stream())
    shapejit.fp8_gemm_nt((a_q, a_s), (b_q, b_s), d2, stream=side)
    side.synchronize()
    assert torch.equal(d2, eager)
