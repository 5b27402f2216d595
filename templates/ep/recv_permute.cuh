#pragma once
// Receive side: the received FP8 rows (with their row-major 1x128 scales, the wire format) into
// the expert-major buffer the grouped GEMM reads, following the receive routing's row_to_token
// (receive row of each GEMM row, -1 padding/unused). Scales become M-major:
// scales_out[g * scale_stride + row]. Padding rows get zeros with scale 1, so the GEMM reads
// finite values there. One block per GEMM row, 16 bytes per thread.
#include "moe/packed_io.cuh"

namespace shapejit::kernels {

template <int HIDDEN>
__global__ void __launch_bounds__(HIDDEN / 16) ep_recv_permute(
    const unsigned char* __restrict__ recv, const float* __restrict__ recv_scales,
    const int* __restrict__ row_to_recv, int num_rows, unsigned char* __restrict__ xq,
    float* __restrict__ scales, int scale_stride) {
  static_assert(HIDDEN % 512 == 0 && HIDDEN / 16 <= 1024,
                "HIDDEN must be a multiple of 512 and at most 16384");
  constexpr int kGroups = HIDDEN / 128;
  const int row = blockIdx.x;
  if (row >= num_rows) return;
  const int src = row_to_recv[row];
  const int col = threadIdx.x * 16;
  moe::Packed16 v;
  if (src >= 0) {
    v = moe::load_stream(recv + static_cast<long long>(src) * HIDDEN + col);
  } else {
#pragma unroll
    for (int k = 0; k < 4; ++k) v.w[k] = 0u;
  }
  moe::store16(xq + static_cast<long long>(row) * HIDDEN + col, v);
  if (threadIdx.x < kGroups)
    scales[static_cast<long long>(threadIdx.x) * scale_stride + row] =
        src >= 0 ? recv_scales[static_cast<long long>(src) * kGroups + threadIdx.x] : 1.0f;
}

}  // namespace shapejit::kernels
