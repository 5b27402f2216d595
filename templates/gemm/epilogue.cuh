#pragma once
// GEMM epilogue: one warp group's 64 x BLOCK_N FP32 accumulator tile (wgmma fragment layout)
// is converted, written to shared memory in the TMA-swizzled layout of D's tensor map, and
// stored to global memory by TMA.
//
// Shared layout of the warp group's D tile: kNumChunks column chunks, each 64 rows of
// kSwizzleBytes (kSwizzleBytes / sizeof(out) columns), swizzled like TMA's SWIZZLE_<n>B;
// D's tensor map box is {kSwizzleBytes / sizeof(out), 64} (3-D: {.., 64, 1}).
#include "common/smem.cuh"
#include "common/tma.cuh"
#include "common/types.cuh"
#include "common/warp.cuh"
#include "common/wgmma.cuh"

namespace shapejit::kernels {

template <int BLOCK_N, bool kOutFP32, int kSwizzleBytes>
struct WarpGroupEpilogue {
  static constexpr int kOutBytes = kOutFP32 ? 4 : 2;
  static constexpr int kRowBytes = kSwizzleBytes == 0 ? BLOCK_N * kOutBytes : kSwizzleBytes;
  static constexpr int kChunkCols = kRowBytes / kOutBytes;
  static constexpr int kNumChunks = BLOCK_N / kChunkCols;
  static constexpr int kChunkBytes = 64 * kRowBytes;
  static constexpr int kTileBytes = 64 * BLOCK_N * kOutBytes;   // one warp group's D tile
  static_assert(BLOCK_N % kChunkCols == 0, "BLOCK_N must be a whole number of swizzle chunks");
  static_assert(kRowBytes % 16 == 0, "TMA rows are multiples of 16 bytes");

  // t: thread index within the warp group; tile: shared address of this group's D tile
  // (aligned to 1024 B). barrier_id: a named barrier for this warp group's 128 threads.
  // is_storer: the one thread that issues the TMA stores (waits for its previous stores first).
  template <int kNumAccum, typename Store>
  __device__ __forceinline__ static void run(const float (&acc)[kNumAccum], uint32_t t,
                                             uint32_t tile, uint32_t barrier_id, bool is_storer,
                                             Store&& store) {
    static_assert(kNumAccum == BLOCK_N / 2, "m64nN accumulators: N/2 per thread");
    // The previous tile's TMA store must have read the shared tile before it is overwritten.
    if (is_storer) tma_store_wait_read<0>();
    named_barrier_sync(barrier_id, 128);

    const uint32_t row = wgmma_accum_row(static_cast<int>(t));
    const uint32_t col = wgmma_accum_col(static_cast<int>(t));
#pragma unroll
    for (int j = 0; j < BLOCK_N / 8; ++j) {
      const int c = j * 8 + static_cast<int>(col);
      const uint32_t chunk = static_cast<uint32_t>(c / kChunkCols);
      const uint32_t byte = static_cast<uint32_t>(c % kChunkCols) * kOutBytes;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint32_t linear = (row + 8 * h) * kRowBytes + byte;
        const uint32_t addr = tile + chunk * kChunkBytes + swizzled_offset<kSwizzleBytes>(linear);
        const float x = acc[4 * j + 2 * h], y = acc[4 * j + 2 * h + 1];
        if constexpr (kOutFP32)
          st_shared_v2_u32(addr, __float_as_uint(x), __float_as_uint(y));
        else
          st_shared_u32(addr, float2_to_bf16x2(x, y).bits);
      }
    }
    // NOTES: the generic-proxy writes above must be visible to the TMA (async proxy) read.
    fence_proxy_async_smem();
    named_barrier_sync(barrier_id, 128);
    if (is_storer) {
#pragma unroll
      for (int i = 0; i < kNumChunks; ++i) store(tile + i * kChunkBytes, i * kChunkCols);
      tma_store_commit();
    }
  }
};

}  // namespace shapejit::kernels
