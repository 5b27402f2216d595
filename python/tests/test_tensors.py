"""Tensor checks that run before any driver call: CPU arrays, dtypes, ranks, shapes, strides and
scale layouts are rejected with a message naming the argument. FakeCudaTensor (conftest.py)
stands in for a CUDA tensor; nothing is launched on it."""

from __future__ import annotations

import numpy as np
import pytest

import shapejit
from shapejit._tensors import stream_handle


def test_cpu_numpy_arrays_are_rejected_clearly():
    x = np.zeros((64, 128), np.float32)
    with pytest.raises(shapejit.InvalidArgument, match=r"^a: needs CUDA device memory, got a tensor on the CPU"):
        shapejit.bf16_gemm_nt(x, x, x)
    q = np.zeros((64, 128), np.uint8)
    with pytest.raises(shapejit.InvalidArgument, match=r"^x: needs CUDA device memory"):
        shapejit.per_token_group_quant_fp8(x, 128, out=(q, np.zeros((64, 1), np.float32)))


def test_dtype_rank_shape_and_stride_errors(fake_cuda):
    F = fake_cuda
    with pytest.raises(shapejit.InvalidArgument, match="a: needs dtype bfloat16, got float32"):
        shapejit.bf16_gemm_nt(F((64, 128), "float32"), F((256, 128)), F((64, 256)))
    with pytest.raises(shapejit.InvalidArgument, match=r"b: needs 2 dimensions, got 3"):
        shapejit.bf16_gemm_nt(F((64, 128)), F((2, 256, 128)), F((64, 256)))
    with pytest.raises(shapejit.InvalidArgument, match=r"d: needs shape \[64, 256\], got \[64, 255\]"):
        shapejit.bf16_gemm_nt(F((64, 128)), F((256, 128)), F((64, 255)))
    with pytest.raises(shapejit.InvalidArgument, match="a: needs unit stride in its last dimension"):
        shapejit.bf16_gemm_nt(F((64, 128), strides=(1, 64)), F((256, 128)), F((64, 256)))
    with pytest.raises(shapejit.InvalidArgument, match="K must be a multiple of 64"):
        shapejit.bf16_gemm_nt(F((64, 100)), F((256, 100)), F((64, 256)))


def test_fp8_gemm_scale_layouts(fake_cuda):
    F = fake_cuda
    a, b, d = F((64, 256), "float8"), F((256, 256), "float8"), F((64, 256))
    sfb = F((2, 2), "float32")
    row_major_sfa = F((64, 2), "float32")
    with pytest.raises(shapejit.InvalidArgument, match="a_scales: needs M-major scales"):
        shapejit.fp8_gemm_nt((a, row_major_sfa), (b, sfb), d)
    with pytest.raises(shapejit.InvalidArgument, match=r"b_scales: needs shape \[2, 2\]"):
        shapejit.fp8_gemm_nt((a, F((64, 2), "float32", strides=(1, 64))), (b, F((2, 3), "float32")), d)
    with pytest.raises(shapejit.InvalidArgument, match="a: needs dtype float8_e4m3fn"):
        shapejit.fp8_gemm_nt((F((64, 256)), F((64, 2), "float32", strides=(1, 64))), (b, sfb), d)
    # A masked GEMM's scales are one M-major block over all groups' rows.
    with pytest.raises(shapejit.InvalidArgument, match="a_scales: needs the M-major over all groups"):
        shapejit.m_grouped_fp8_gemm_nt_masked(
            (F((4, 64, 256), "float8"), F((4, 64, 2), "float32", strides=(128, 1, 64))),
            (F((4, 256, 256), "float8"), F((4, 2, 2), "float32")), F((4, 64, 256)), F((4,), "int32"), 32)


def test_quant_scale_layout_must_match_the_strides(fake_cuda):
    F = fake_cuda
    x, q = F((64, 256)), F((64, 256), "uint8")
    with pytest.raises(shapejit.InvalidArgument, match="scales: needs the M-major"):
        shapejit.per_token_group_quant_fp8(x, 128, scale_layout="m_major", out=(q, F((64, 2), "float32")))
    with pytest.raises(shapejit.InvalidArgument, match="scale_layout must be"):
        shapejit.per_token_group_quant_fp8(x, 128, scale_layout="columns", out=(q, F((64, 2), "float32")))
    with pytest.raises(shapejit.InvalidArgument, match="group_size 100 must divide K = 256"):
        shapejit.per_token_group_quant_fp8(x, 100, out=(q, F((64, 2), "float32")))


def test_valid_tensors_get_as_far_as_the_driver(fake_cuda):
    # Every host-side check passes; the first thing that needs a GPU says there is none.
    ok, _ = shapejit.driver_available()
    if ok:
        pytest.skip("a driver is present: the stand-in tensors must not reach it")
    F = fake_cuda
    with pytest.raises(shapejit.NoDriver):
        shapejit.bf16_gemm_nt(F((64, 128)), F((256, 128)), F((64, 256)))


def test_mla_and_moe_argument_errors(fake_cuda):
    F = fake_cuda
    with pytest.raises(shapejit.Unsupported, match="num_heads_k"):
        shapejit.get_mla_metadata(F((4,), "int32"), 128, 2)
    with pytest.raises(shapejit.Unsupported, match="head_dim_v"):
        shapejit.flash_mla_with_kvcache(F((4, 1, 128, 576)), F((8, 64, 1, 576)), F((4, 2), "int32"),
                                        F((4,), "int32"), 256, F((64,), "int32"), out=(1, 2), workspace=3)
    with pytest.raises(shapejit.InvalidArgument, match="layout must be"):
        shapejit.MoeConfig(layout="sideways")
    with pytest.raises(shapejit.InvalidArgument):
        shapejit.MoeConfig(hidden=100)


def test_stream_argument_forms():
    class TorchLike:
        cuda_stream = 1234

    class CupyLike:
        ptr = 99

    assert stream_handle(7) == 7
    assert stream_handle(TorchLike()) == 1234
    assert stream_handle(CupyLike()) == 99
    with pytest.raises(shapejit.InvalidArgument, match="stream"):
        stream_handle("default")
