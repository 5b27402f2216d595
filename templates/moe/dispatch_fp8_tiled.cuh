#pragma once
// Dispatch with a tunable launch shape: the gather and FP8 1x128 quantization of
// moe_dispatch_fp8 (dispatch_fp8.cuh, the proven default: one token per block, 16 columns per
// thread), with COLS_PER_THREAD columns per thread and ROWS_PER_BLOCK tokens per block, so small
// token rows can share a block and wide ones can spread over more threads. Same arguments,
// layouts and bit-identical results (the scale of a group depends only on its 128 values).
#include "moe/packed_cols.cuh"
#include "moe/row_tile.cuh"

namespace shapejit::kernels {

template <int HIDDEN, int TOP_K, bool SCALE_M_MAJOR, int COLS_PER_THREAD, int ROWS_PER_BLOCK>
__global__ void __launch_bounds__(moe_tile_threads(HIDDEN, COLS_PER_THREAD, ROWS_PER_BLOCK))
    moe_dispatch_fp8_tiled(const unsigned short* __restrict__ x, int num_tokens,
                           const int* __restrict__ token_slot, unsigned char* __restrict__ xq,
                           float* __restrict__ scales, int scale_stride) {
  static_assert(HIDDEN % kMoeQuantGroup == 0 && kMoeQuantGroup % COLS_PER_THREAD == 0,
                "a thread's columns lie in one quantization group");
  static_assert(moe_tile_whole_warps(HIDDEN, COLS_PER_THREAD), "a row is whole warps");
  static_assert(moe_tile_fits_block(HIDDEN, COLS_PER_THREAD, ROWS_PER_BLOCK), "at most 1024 threads");
  constexpr int kRowThreads = moe_tile_row_threads(HIDDEN, COLS_PER_THREAD);
  constexpr int kGroupLanes = kMoeQuantGroup / COLS_PER_THREAD;   // threads sharing one scale
  // Whole warps per token, so a token past the end retires whole warps and every shuffle of a
  // live group sees live lanes only.
  const int t = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / kRowThreads;
  if (t >= num_tokens) return;
  const int lane_in_row = threadIdx.x % kRowThreads;
  const int col = lane_in_row * COLS_PER_THREAD;

  int rows[TOP_K];
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) rows[j] = token_slot[t * TOP_K + j];

  float v[COLS_PER_THREAD];
  moe::load_bf16_cols(x + static_cast<long long>(t) * HIDDEN + col, v);
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < COLS_PER_THREAD; ++i) amax = fmaxf(amax, fabsf(v[i]));
  amax = fmaxf(moe::group_max<kGroupLanes>(amax), moe::kAmaxFloor);
  const float scale = __fdiv_rn(amax, moe::kFp8E4M3Max);
  const float inv_scale = __fdiv_rn(1.0f, scale);

  const int group = col / kMoeQuantGroup;
  const bool writes_scale = lane_in_row % kGroupLanes == 0;
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    const int row = rows[j];
    if (row < 0) continue;
    moe::store_fp8_cols(xq + static_cast<long long>(row) * HIDDEN + col, v, inv_scale);
    if (writes_scale) {
      const long long at = SCALE_M_MAJOR ? static_cast<long long>(group) * scale_stride + row
                                          : static_cast<long long>(row) * scale_stride + group;
      scales[at] = scale;
    }
  }
}

}  // namespace shapejit::kernels
