#pragma once
// Per-token-group FP8 quantization: x [M, K] BF16 → q [M, K] FP8 E4M3 and one FP32 scale per
// 1×GROUP_SIZE group, the A-operand format of the FP8 GEMMs:
//     scale = max(amax(group), kMinAmax) / 448,   q = round_satfinite(x / scale).
// The scale of (row m, group g) is written at scales[m * scale_stride_m + g * scale_stride_g],
// so one kernel writes either the row-major [M, K/G] layout or the M-major [K/G, M_pad] layout
// that the GEMM's TMA loads want.
#include "common/types.cuh"

namespace shapejit::kernels {

namespace quant {
constexpr float kE4M3Max = 448.0f;
// NOTES: an all-zero group would give scale 0 and 0/0 = NaN; flooring amax keeps q = 0 and a
// tiny finite scale.
constexpr float kMinAmax = 1e-4f;
constexpr int kElemsPerThread = 8;   // one 16-byte load of BF16 per thread
}  // namespace quant

template <int K, int GROUP_SIZE, int THREADS>
__global__ void __launch_bounds__(THREADS)
per_token_group_quant(const bf16_t* __restrict__ x, fp8_e4m3_t* __restrict__ q,
                      float* __restrict__ scales, int M, long long scale_stride_m,
                      long long scale_stride_g) {
  constexpr int kThreadsPerGroup = GROUP_SIZE / quant::kElemsPerThread;
  constexpr int kGroupsPerRow = K / GROUP_SIZE;
  constexpr int kGroupsPerBlock = THREADS / kThreadsPerGroup;
  static_assert(K % GROUP_SIZE == 0, "K must be a multiple of GROUP_SIZE");
  static_assert(GROUP_SIZE % quant::kElemsPerThread == 0, "GROUP_SIZE must be a multiple of 8");
  static_assert(kThreadsPerGroup <= 32 && (kThreadsPerGroup & (kThreadsPerGroup - 1)) == 0,
                "a group must map to a power-of-two number of lanes within one warp");
  static_assert(THREADS % 32 == 0 && THREADS <= 1024, "THREADS must be whole warps");

  const long long group = static_cast<long long>(blockIdx.x) * kGroupsPerBlock +
                          threadIdx.x / kThreadsPerGroup;
  const long long num_groups = static_cast<long long>(M) * kGroupsPerRow;
  // NOTES: lanes of a partial group past the end still join the shuffles below with zeros;
  // only the stores are predicated.
  const bool active = group < num_groups;
  const int lane_in_group = threadIdx.x % kThreadsPerGroup;
  const long long row = active ? group / kGroupsPerRow : 0;
  const int g = active ? static_cast<int>(group % kGroupsPerRow) : 0;
  const long long offset = row * K + static_cast<long long>(g) * GROUP_SIZE +
                           lane_in_group * quant::kElemsPerThread;

  float v[quant::kElemsPerThread];
  if (active) {
    const uint4 raw = *reinterpret_cast<const uint4*>(x + offset);
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) bf16x2_to_float2(bf16x2_t{words[i]}, v[2 * i], v[2 * i + 1]);
  } else {
#pragma unroll
    for (int i = 0; i < quant::kElemsPerThread; ++i) v[i] = 0.0f;
  }

  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < quant::kElemsPerThread; ++i) amax = fmaxf(amax, fabsf(v[i]));
#pragma unroll
  for (int mask = kThreadsPerGroup / 2; mask > 0; mask >>= 1)
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, mask));

  const float scale = fmaxf(amax, quant::kMinAmax) / quant::kE4M3Max;
  const float inv_scale = 1.0f / scale;
  if (!active) return;

  uint32_t packed[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const uint32_t lo = float2_to_e4m3x2(v[4 * i] * inv_scale, v[4 * i + 1] * inv_scale);
    const uint32_t hi = float2_to_e4m3x2(v[4 * i + 2] * inv_scale, v[4 * i + 3] * inv_scale);
    packed[i] = lo | (hi << 16);
  }
  *reinterpret_cast<uint2*>(q + offset) = make_uint2(packed[0], packed[1]);
  if (lane_in_group == 0) scales[row * scale_stride_m + g * scale_stride_g] = scale;
}

}  // namespace shapejit::kernels
