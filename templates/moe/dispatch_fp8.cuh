#pragma once
// Dispatch: gathers x [T, HIDDEN] BF16 into the expert-major buffer, quantized to FP8 E4M3
// with one FP32 scale per row per 128 columns.
//
// One block per token: the token's row is read once and quantized once (a 1x128 group's scale
// depends only on the token), then written to each of its TOP_K rows (token_slot, -1 = skip).
// Each thread owns 16 consecutive columns: two 16-byte loads, one 16-byte FP8 store per row.
//
//   xq     [num_rows, HIDDEN] FP8 E4M3, row-major
//   scales SCALE_M_MAJOR: scales[g * scale_stride + row] (g = column / 128), the layout the
//          grouped GEMM reads by TMA; else scales[row * scale_stride + g]
//
// Quantization: the project's 1x128 format, bit-identical to quant/per_token_group_quant:
// scale = max(amax, 1e-4) / 448, q = e4m3_rn_satfinite(x * (1 / scale)), FP32 throughout.
#include "moe/packed_io.cuh"

namespace shapejit::kernels {

template <int HIDDEN, int TOP_K, bool SCALE_M_MAJOR>
__global__ void __launch_bounds__(HIDDEN / 16) moe_dispatch_fp8(
    const unsigned short* __restrict__ x, int num_tokens, const int* __restrict__ token_slot,
    unsigned char* __restrict__ xq, float* __restrict__ scales, int scale_stride) {
  static_assert(HIDDEN % 512 == 0 && HIDDEN / 16 <= 1024,
                "HIDDEN must be a multiple of 512 and at most 16384");
  constexpr int kGroupLanes = 128 / 16;  // threads sharing one 1x128 scale
  const int t = blockIdx.x;
  if (t >= num_tokens) return;
  const int col = threadIdx.x * 16;

  int rows[TOP_K];
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) rows[j] = token_slot[t * TOP_K + j];

  const unsigned short* src = x + static_cast<long long>(t) * HIDDEN + col;
  const moe::Packed16 a = moe::load_stream(src);
  const moe::Packed16 b = moe::load_stream(src + 8);
  float v[16];
  moe::unpack_bf16x8(a, v + 0);
  moe::unpack_bf16x8(b, v + 8);

  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < 16; ++i) amax = fmaxf(amax, fabsf(v[i]));
  amax = fmaxf(moe::group_max<kGroupLanes>(amax), moe::kAmaxFloor);
  const float scale = __fdiv_rn(amax, moe::kFp8E4M3Max);
  const float inv_scale = __fdiv_rn(1.0f, scale);
  const moe::Packed16 q = moe::quantize16(v, inv_scale);

  const int group = col / 128;
  const bool writes_scale = threadIdx.x % kGroupLanes == 0;
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    const int row = rows[j];
    if (row < 0) continue;
    moe::store16(xq + static_cast<long long>(row) * HIDDEN + col, q);
    if (writes_scale) {
      const long long at = SCALE_M_MAJOR ? static_cast<long long>(group) * scale_stride + row
                                          : static_cast<long long>(row) * scale_stride + group;
      scales[at] = scale;
    }
  }
}

}  // namespace shapejit::kernels
