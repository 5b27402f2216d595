#pragma once
// SwiGLU on the gate/up GEMM output, quantized to FP8 for the down GEMM.
//
//   h      [num_rows, 2 * INTERMEDIATE] BF16: columns [0, I) gate, [I, 2I) up
//   aq     [num_rows, INTERMEDIATE] FP8 E4M3: silu(gate) * up, 1x128 scales as in dispatch
//   scales SCALE_M_MAJOR: scales[g * scale_stride + row]; else scales[row * scale_stride + g]
//
// One block per row; rows with row_to_token[row] < 0 (padding, unused capacity) are skipped,
// so they are neither read nor written. silu(g) = g / (1 + exp(-g)), in FP32.
#include "moe/packed_io.cuh"

namespace shapejit::kernels {

template <int INTERMEDIATE, bool SCALE_M_MAJOR>
__global__ void __launch_bounds__(INTERMEDIATE / 16) moe_swiglu_fp8(
    const unsigned short* __restrict__ h, const int* __restrict__ row_to_token, int num_rows,
    unsigned char* __restrict__ aq, float* __restrict__ scales, int scale_stride) {
  static_assert(INTERMEDIATE % 512 == 0 && INTERMEDIATE / 16 <= 1024,
                "INTERMEDIATE must be a multiple of 512 and at most 16384");
  constexpr int kGroupLanes = 128 / 16;
  const int row = blockIdx.x;
  if (row >= num_rows || row_to_token[row] < 0) return;
  const int col = threadIdx.x * 16;

  const unsigned short* gate = h + static_cast<long long>(row) * (2 * INTERMEDIATE) + col;
  const unsigned short* up = gate + INTERMEDIATE;
  const moe::Packed16 g0 = moe::load_stream(gate), g1 = moe::load_stream(gate + 8);
  const moe::Packed16 u0 = moe::load_stream(up), u1 = moe::load_stream(up + 8);
  float g[16], u[16], v[16];
  moe::unpack_bf16x8(g0, g + 0);
  moe::unpack_bf16x8(g1, g + 8);
  moe::unpack_bf16x8(u0, u + 0);
  moe::unpack_bf16x8(u1, u + 8);

  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    v[i] = __fdiv_rn(g[i], 1.0f + __expf(-g[i])) * u[i];
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = fmaxf(moe::group_max<kGroupLanes>(amax), moe::kAmaxFloor);
  const float scale = __fdiv_rn(amax, moe::kFp8E4M3Max);
  const float inv_scale = __fdiv_rn(1.0f, scale);
  moe::store16(aq + static_cast<long long>(row) * INTERMEDIATE + col, moe::quantize16(v, inv_scale));
  if (threadIdx.x % kGroupLanes == 0) {
    const int group = col / 128;
    const long long at = SCALE_M_MAJOR ? static_cast<long long>(group) * scale_stride + row
                                        : static_cast<long long>(row) * scale_stride + group;
    scales[at] = scale;
  }
}

}  // namespace shapejit::kernels
