#pragma once
// Combine with a tunable launch shape: the weighted FP32 sum of moe_combine (combine.cuh, the
// proven default: one token per block, 16 columns per thread), with COLS_PER_THREAD columns per
// thread and ROWS_PER_BLOCK tokens per block. Same arguments, j-ascending FP32 order and one
// BF16 rounding, so results are bit-identical; all TOP_K row loads are issued before the sum.
#include "moe/packed_cols.cuh"
#include "moe/row_tile.cuh"

namespace shapejit::kernels {

template <int HIDDEN, int TOP_K, int COLS_PER_THREAD, int ROWS_PER_BLOCK>
__global__ void __launch_bounds__(moe_tile_threads(HIDDEN, COLS_PER_THREAD, ROWS_PER_BLOCK))
    moe_combine_tiled(const unsigned short* __restrict__ y, const int* __restrict__ token_slot,
                      const float* __restrict__ weights, int num_tokens,
                      unsigned short* __restrict__ out) {
  static_assert(HIDDEN % COLS_PER_THREAD == 0 && COLS_PER_THREAD % kMoeVectorCols == 0,
                "a thread's columns are whole 16-byte vectors");
  static_assert(moe_tile_whole_warps(HIDDEN, COLS_PER_THREAD), "a row is whole warps");
  static_assert(moe_tile_fits_block(HIDDEN, COLS_PER_THREAD, ROWS_PER_BLOCK), "at most 1024 threads");
  constexpr int kRowThreads = moe_tile_row_threads(HIDDEN, COLS_PER_THREAD);
  constexpr int kVectors = COLS_PER_THREAD / kMoeVectorCols;
  const int t = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / kRowThreads;
  if (t >= num_tokens) return;
  const int col = threadIdx.x % kRowThreads * COLS_PER_THREAD;

  moe::Packed16 rows[TOP_K][kVectors];
  float w[TOP_K];
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
    const int row = token_slot[t * TOP_K + j];
    w[j] = row >= 0 ? weights[t * TOP_K + j] : 0.0f;
#pragma unroll
    for (int k = 0; k < kVectors; ++k) {
      if (row >= 0) {
        rows[j][k] = moe::load_stream(y + static_cast<long long>(row) * HIDDEN + col + kMoeVectorCols * k);
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) rows[j][k].w[i] = 0u;
      }
    }
  }
  float acc[COLS_PER_THREAD];
#pragma unroll
  for (int i = 0; i < COLS_PER_THREAD; ++i) acc[i] = 0.0f;
#pragma unroll
  for (int j = 0; j < TOP_K; ++j) {
#pragma unroll
    for (int k = 0; k < kVectors; ++k) {
      float v[kMoeVectorCols];
      moe::unpack_bf16x8(rows[j][k], v);
#pragma unroll
      for (int i = 0; i < kMoeVectorCols; ++i)
        acc[kMoeVectorCols * k + i] = fmaf(w[j], v[i], acc[kMoeVectorCols * k + i]);
    }
  }
  moe::store_bf16_cols(out + static_cast<long long>(t) * HIDDEN + col, acc);
}

}  // namespace shapejit::kernels
