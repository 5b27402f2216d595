#pragma once
// Send rows from FP8 input: the caller's tokens are already FP8 E4M3 with FP32 1x128 scales
// (quant/per_token_group_quant's output), so they are copied as given, never re-quantized, to
// each of the token's send rows (token_rows [T, TOP_K], -1 = none), with the scales in the wire
// format (row-major [rows, HIDDEN/128]). The input scales are
//   SCALE_M_MAJOR: scales[g * scale_stride + t]   (the GEMM's A-scale layout)
//   else:          scales[t * scale_stride + g]
// One block per token: each thread copies 16 bytes; the first HIDDEN/128 threads one scale each.
#include "moe/packed_io.cuh"

namespace shapejit::kernels {

template <int HIDDEN, int TOP_K, bool SCALE_M_MAJOR>
__global__ void __launch_bounds__(HIDDEN / 16) ep_send_fp8_rows(
    const unsigned char* __restrict__ x, const float* __restrict__ scales, int scale_stride, int num_tokens,
    const int* __restrict__ token_rows, unsigned char* __restrict__ send, float* __restrict__ send_scales) {
  static_assert(HIDDEN % 512 == 0 && HIDDEN / 16 <= 1024,
                "HIDDEN must be a multiple of 512 and at most 16384");
  constexpr int kGroups = HIDDEN / 128;
  const int t = blockIdx.x;
  if (t >= num_tokens) return;
  const int col = threadIdx.x * 16;
  const moe::Packed16 v = moe::load_stream(x + static_cast<long long>(t) * HIDDEN + col);
  const bool has_scale = threadIdx.x < kGroups;
  float s = 0.0f;
  if (has_scale)
    s = SCALE_M_MAJOR ? scales[static_cast<long long>(threadIdx.x) * scale_stride + t]
                      : scales[static_cast<long long>(t) * scale_stride + threadIdx.x];
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    const int row = token_rows[t * TOP_K + j];
    if (row < 0) continue;
    moe::store16(send + static_cast<long long>(row) * HIDDEN + col, v);
    if (has_scale) send_scales[static_cast<long long>(row) * kGroups + threadIdx.x] = s;
  }
}

}  // namespace shapejit::kernels
