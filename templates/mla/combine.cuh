#pragma once
// MLA decode combine: merges the FP32 partial outputs of a request's splits by their
// log-sum-exp (natural log). One warp per query row (head × s_q); requests with a single split
// were written directly by the split kernel and are skipped.
//
// o_accum [splits, H_Q·S_Q, 512] FP32, lse_accum [splits, H_Q·S_Q] FP32 (−inf: the split saw no
// key of that row); split_begin[b]..split_begin[b+1] are request b's splits.
// out [batch, S_Q, H_Q, 512] BF16, lse [batch, H_Q, S_Q].
#include "common/types.cuh"

namespace shapejit::kernels {

template <int H_Q, int S_Q>
__global__ void __launch_bounds__(128)
    mla_combine(const int* __restrict__ split_begin, const float* __restrict__ o_accum,
                const float* __restrict__ lse_accum, bf16_t* __restrict__ out,
                float* __restrict__ lse, int batch) {
  constexpr int kRows = H_Q * S_Q;
  constexpr int kDim = 512;
  constexpr float kLog2e = 1.4426950408889634f;
  const int b = static_cast<int>(blockIdx.x);
  const int row = static_cast<int>(blockIdx.y) * 4 + static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (b >= batch || row >= kRows) return;
  const int first = split_begin[b];
  const int count = split_begin[b + 1] - first;
  if (count <= 1) return;

  const float* lse_row = lse_accum + static_cast<long long>(first) * kRows + row;
  float mx = -__int_as_float(0x7f800000);
  for (int j = lane; j < count; j += 32) mx = fmaxf(mx, lse_row[static_cast<long long>(j) * kRows]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));

  const int s = row / H_Q, h = row % H_Q;
  bf16_t* out_row = out + (static_cast<long long>(b) * kRows + row) * kDim;
  float* lse_out = lse + (static_cast<long long>(b) * H_Q + h) * S_Q + s;
  if (mx == -__int_as_float(0x7f800000)) {
    // No split saw a key of this row.
#pragma unroll
    for (int k = 0; k < kDim / 64; ++k)
      reinterpret_cast<bf16x2_t*>(out_row)[lane + 32 * k] = float2_to_bf16x2(0.0f, 0.0f);
    if (lane == 0) *lse_out = __int_as_float(0x7f800000);
    return;
  }
  float sum = 0.0f;
  for (int j = lane; j < count; j += 32)
    sum += exp2f((lse_row[static_cast<long long>(j) * kRows] - mx) * kLog2e);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float total_lse = mx + logf(sum);

  float acc[16];
#pragma unroll
  for (int i = 0; i < 16; ++i) acc[i] = 0.0f;
  for (int j = 0; j < count; ++j) {
    const float w = exp2f((lse_row[static_cast<long long>(j) * kRows] - total_lse) * kLog2e);
    const float* src = o_accum + ((static_cast<long long>(first) + j) * kRows + row) * kDim;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float4 v = reinterpret_cast<const float4*>(src)[lane + 32 * k];
      acc[4 * k + 0] += w * v.x;
      acc[4 * k + 1] += w * v.y;
      acc[4 * k + 2] += w * v.z;
      acc[4 * k + 3] += w * v.w;
    }
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    uint2 packed;
    packed.x = float2_to_bf16x2(acc[4 * k + 0], acc[4 * k + 1]).bits;
    packed.y = float2_to_bf16x2(acc[4 * k + 2], acc[4 * k + 3]).bits;
    reinterpret_cast<uint2*>(out_row)[lane + 32 * k] = packed;
  }
  if (lane == 0) *lse_out = total_lse;
}

}  // namespace shapejit::kernels
