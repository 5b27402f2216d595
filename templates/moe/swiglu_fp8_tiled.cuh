#pragma once
// SwiGLU with a tunable launch shape: silu(gate) * up quantized to FP8 1x128 as in
// moe_swiglu_fp8 (swiglu_fp8.cuh, the proven default: one row per block, 16 columns per
// thread), with COLS_PER_THREAD columns per thread and ROWS_PER_BLOCK rows per block. The
// expert intermediate width is small (2048: 128 threads a row), so several rows per block give
// fewer, fuller blocks. Same arguments, layouts and bit-identical results.
#include "moe/packed_cols.cuh"
#include "moe/row_tile.cuh"

namespace shapejit::kernels {

// NOTES: the minimum of one resident block lets ptxas use 65536 / threads registers; left to
// itself it aims at two 1024-thread blocks an SM (32 registers), which the 8-column shape at
// 4 rows a block exceeds by one spilled register.
template <int INTERMEDIATE, bool SCALE_M_MAJOR, int COLS_PER_THREAD, int ROWS_PER_BLOCK>
__global__ void __launch_bounds__(moe_tile_threads(INTERMEDIATE, COLS_PER_THREAD, ROWS_PER_BLOCK), 1)
    moe_swiglu_fp8_tiled(const unsigned short* __restrict__ h, const int* __restrict__ row_to_token,
                         int num_rows, unsigned char* __restrict__ aq, float* __restrict__ scales,
                         int scale_stride) {
  static_assert(INTERMEDIATE % kMoeQuantGroup == 0 && kMoeQuantGroup % COLS_PER_THREAD == 0,
                "a thread's columns lie in one quantization group");
  static_assert(moe_tile_whole_warps(INTERMEDIATE, COLS_PER_THREAD), "a row is whole warps");
  static_assert(moe_tile_fits_block(INTERMEDIATE, COLS_PER_THREAD, ROWS_PER_BLOCK), "at most 1024 threads");
  constexpr int kRowThreads = moe_tile_row_threads(INTERMEDIATE, COLS_PER_THREAD);
  constexpr int kGroupLanes = kMoeQuantGroup / COLS_PER_THREAD;
  // A skipped or out-of-range row retires whole warps (a row is whole warps).
  const int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / kRowThreads;
  if (row >= num_rows || row_to_token[row] < 0) return;
  const int lane_in_row = threadIdx.x % kRowThreads;
  const int col = lane_in_row * COLS_PER_THREAD;

  const unsigned short* gate = h + static_cast<long long>(row) * (2 * INTERMEDIATE) + col;
  // v holds the gate, then silu(gate) * up in place (fewer live registers at 1024 threads).
  float v[COLS_PER_THREAD], u[COLS_PER_THREAD];
  moe::load_bf16_cols(gate, v);
  moe::load_bf16_cols(gate + INTERMEDIATE, u);
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < COLS_PER_THREAD; ++i) {
    v[i] = __fdiv_rn(v[i], 1.0f + __expf(-v[i])) * u[i];
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = fmaxf(moe::group_max<kGroupLanes>(amax), moe::kAmaxFloor);
  const float scale = __fdiv_rn(amax, moe::kFp8E4M3Max);
  const float inv_scale = __fdiv_rn(1.0f, scale);
  moe::store_fp8_cols(aq + static_cast<long long>(row) * INTERMEDIATE + col, v, inv_scale);
  if (lane_in_row % kGroupLanes == 0) {
    const int group = col / kMoeQuantGroup;
    const long long at = SCALE_M_MAJOR ? static_cast<long long>(group) * scale_stride + row
                                        : static_cast<long long>(row) * scale_stride + group;
    scales[at] = scale;
  }
}

}  // namespace shapejit::kernels
