#pragma once
// MLA decode, combine kernel: merges the normalised FP32 partials of requests that were split
// across SM parts, weighting each by exp(lse_i - lse_max). Requests with one split were written
// by the split kernel and are skipped; requests with no split (no KV tokens) get out = 0 and
// lse = +inf, as do rows whose splits saw no visible key.
//
// Launch: grid (batch, ceil(s_q*h_q / kRowsPerCta)), block 128: one warp per query row, each lane
// owning 16 of the 512 value columns.
#include "common/fast_math.cuh"
#include "common/smem.cuh"
#include "common/types.cuh"
#include "mla/decode_params.cuh"
#include "mla/decode_schedule.cuh"

namespace shapejit::kernels {

template <int H_Q, int S_Q, int NUM_SM_PARTS>
__global__ void __launch_bounds__(128)
    mla_decode_combine(const shapejit::mla_plan::DecodeParams params) {
  constexpr int kRows = H_Q * S_Q;
  constexpr int kRowsPerCta = 4;
  const float kInf = __int_as_float(0x7f800000);   // NVRTC has no __builtin_huge_valf
  const int req = blockIdx.x;
  const int row = blockIdx.y * kRowsPerCta + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= kRows) return;
  const int* prefix = params.meta + NUM_SM_PARTS * mla_plan::kPartInts;
  const int first = prefix[req];
  const int n = prefix[req + 1] - first;
  if (n == 1) return;

  // Largest partial LSE and the sum of weights.
  float lmax = -kInf;
  for (int i = lane; i < n; i += 32)
    lmax = fmaxf(lmax, params.lse_accum[static_cast<long long>(first + i) * kRows + row]);
#pragma unroll
  for (int k = 1; k < 32; k <<= 1) lmax = fmaxf(lmax, __shfl_xor_sync(0xffffffffu, lmax, k));
  const long long out_row = static_cast<long long>(req) * kRows + row;
  unsigned short* out = static_cast<unsigned short*>(params.out) + out_row * mla_plan::kValueDim + lane * 16;
  const int sq = row / H_Q, h = row % H_Q;
  float* lse = params.lse + (static_cast<long long>(req) * H_Q + h) * S_Q + sq;

  if (n == 0 || lmax == -kInf) {
#pragma unroll
    for (int c = 0; c < 16; c += 2) *reinterpret_cast<uint32_t*>(out + c) = 0u;
    if (lane == 0) *lse = kInf;
    return;
  }
  constexpr float kLog2e = 1.4426950408889634f;
  float acc[16];
#pragma unroll
  for (int c = 0; c < 16; ++c) acc[c] = 0.f;
  float wsum = 0.f;
  for (int i = 0; i < n; ++i) {
    const long long prow = static_cast<long long>(first + i) * kRows + row;
    const float w = fast_exp2((params.lse_accum[prow] - lmax) * kLog2e);
    wsum += w;
    const float* src = params.o_accum + prow * mla_plan::kValueDim + lane * 16;
#pragma unroll
    for (int c = 0; c < 16; c += 4) {
      float v0, v1, v2, v3;
      asm volatile("ld.global.v4.f32 {%0, %1, %2, %3}, [%4];"
                   : "=f"(v0), "=f"(v1), "=f"(v2), "=f"(v3)
                   : "l"(src + c));
      acc[c] += w * v0;
      acc[c + 1] += w * v1;
      acc[c + 2] += w * v2;
      acc[c + 3] += w * v3;
    }
  }
  const float inv = 1.f / wsum;
  uint32_t packed[8];
#pragma unroll
  for (int c = 0; c < 8; ++c) packed[c] = float2_to_bf16x2(acc[2 * c] * inv, acc[2 * c + 1] * inv).bits;
  st_global_v4_u32(out, packed[0], packed[1], packed[2], packed[3]);
  st_global_v4_u32(out + 8, packed[4], packed[5], packed[6], packed[7]);
  if (lane == 0) *lse = lmax + fast_log2(wsum) * 0.69314718055994531f;
}

}  // namespace shapejit::kernels
