#pragma once
// Combine: out[t] = sum_j w[t, j] * y[token_slot[t, j]] over the entries routed here, in FP32,
// j ascending (a fixed order, so the result is bit-reproducible), rounded once to BF16.
// A token with no entry here gets zeros.
//
//   y       [num_rows, HIDDEN] BF16 (the down GEMM's output, expert-major rows)
//   weights [T, TOP_K] FP32
//   out     [T, HIDDEN] BF16
//
// One block per token, 16 columns per thread; all TOP_K row loads are issued before the sum.
#include "moe/packed_io.cuh"

namespace shapejit::kernels {

template <int HIDDEN, int TOP_K>
__global__ void __launch_bounds__(HIDDEN / 16) moe_combine(
    const unsigned short* __restrict__ y, const int* __restrict__ token_slot,
    const float* __restrict__ weights, int num_tokens, unsigned short* __restrict__ out) {
  static_assert(HIDDEN % 512 == 0 && HIDDEN / 16 <= 1024,
                "HIDDEN must be a multiple of 512 and at most 16384");
  const int t = blockIdx.x;
  if (t >= num_tokens) return;
  const int col = threadIdx.x * 16;

  moe::Packed16 rows[TOP_K][2];
  float w[TOP_K];
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    const int row = token_slot[t * TOP_K + j];
    w[j] = row >= 0 ? weights[t * TOP_K + j] : 0.0f;
    if (row >= 0) {
      const unsigned short* src = y + static_cast<long long>(row) * HIDDEN + col;
      rows[j][0] = moe::load_stream(src);
      rows[j][1] = moe::load_stream(src + 8);
    } else {
#pragma unroll
      for (int k = 0; k < 4; ++k) rows[j][0].w[k] = rows[j][1].w[k] = 0u;
    }
  }
  float acc[16];
#pragma unroll
  for (int i = 0; i < 16; ++i) acc[i] = 0.0f;
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    float v[16];
    moe::unpack_bf16x8(rows[j][0], v + 0);
    moe::unpack_bf16x8(rows[j][1], v + 8);
#pragma unroll
    for (int i = 0; i < 16; ++i) acc[i] = fmaf(w[j], v[i], acc[i]);
  }
  moe::Packed16 o0, o1;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    o0.w[k] = moe::pack_bf16x2(acc[2 * k], acc[2 * k + 1]);
    o1.w[k] = moe::pack_bf16x2(acc[8 + 2 * k], acc[8 + 2 * k + 1]);
  }
  unsigned short* dst = out + static_cast<long long>(t) * HIDDEN + col;
  moe::store16(dst, o0);
  moe::store16(dst + 8, o1);
}

}  // namespace shapejit::kernels
