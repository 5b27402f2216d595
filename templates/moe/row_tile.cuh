#pragma once
// Launch-shape facts of the tiled MoE kernels (dispatch_fp8_tiled, swiglu_fp8_tiled,
// combine_tiled): a block covers ROWS_PER_BLOCK rows of WIDTH columns, each thread
// COLS_PER_THREAD consecutive columns. Plain constexpr C++, included by the kernels, by the
// MoE front end (runtime/moe/) and by the definitions' rules (jit/catalog/moe_kernels.cpp), so a
// launch uses the block the kernel was compiled for.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SHAPEJIT_MOE_HD __host__ __device__
#else
#define SHAPEJIT_MOE_HD
#endif

namespace shapejit::kernels {

// NOTES: enumerators, not constexpr variables: the kernels compile with -default-device, which
// turns every namespace-scope variable into a global in the cubin.
enum : int {
  kMoeWarpThreads = 32,
  kMoeMaxBlockThreads = 1024,
  kMoeQuantGroup = 128,   // columns sharing one FP8 scale (the 1x128 format)
  kMoeVectorCols = 8,     // BF16 columns per 16-byte load
};

// Threads per row: a whole number of warps, so a row never shares a warp with another row and
// the warp shuffles of one quantization group see only live lanes of that row.
SHAPEJIT_MOE_HD constexpr int moe_tile_row_threads(int width, int cols_per_thread) {
  return width / cols_per_thread;
}
SHAPEJIT_MOE_HD constexpr int moe_tile_threads(int width, int cols_per_thread, int rows_per_block) {
  return moe_tile_row_threads(width, cols_per_thread) * rows_per_block;
}
SHAPEJIT_MOE_HD constexpr bool moe_tile_whole_warps(int width, int cols_per_thread) {
  return width % (cols_per_thread * kMoeWarpThreads) == 0;
}
SHAPEJIT_MOE_HD constexpr bool moe_tile_fits_block(int width, int cols_per_thread, int rows_per_block) {
  return moe_tile_threads(width, cols_per_thread, rows_per_block) <= kMoeMaxBlockThreads;
}

}  // namespace shapejit::kernels
