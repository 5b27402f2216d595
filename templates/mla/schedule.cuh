#pragma once
// MLA decode scheduler: one warp splits every request's KV tiles into contiguous runs balanced
// across NUM_PARTS SM parts. Runs on the GPU so a whole decode step can be captured in a CUDA
// graph; the host twin (runtime/mla_schedule.cpp) walks the same way and is what tests check.
//
// Output: parts[NUM_PARTS] of 8 int32 {begin_req, begin_block, end_req, end_block,
// first_split, 0, 0, 0} (empty when end_req < begin_req) and split_begin[batch + 1].
#include "common/types.cuh"

namespace shapejit::kernels {

template <int NUM_PARTS>
__global__ void __launch_bounds__(32, 1)
    mla_schedule(const int* __restrict__ seqlens, int* __restrict__ parts,
                 int* __restrict__ split_begin, int batch) {
  constexpr int BLOCK_N = 64;
  constexpr int kOverhead = 5;   // a split's fixed cost in tiles (Q load, epilogue, combine)
  static_assert(NUM_PARTS >= 1, "at least one SM part");
  const int lane = static_cast<int>(threadIdx.x);
  auto tiles = [&](int b) {
    const int len = seqlens[b];
    return len > 0 ? (len + BLOCK_N - 1) / BLOCK_N : 0;
  };

  long long total = 0;
  for (int b = lane; b < batch; b += 32) total += tiles(b) + kOverhead;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
  // NOTES: see the host twin: the even share plus one overhead per part.
  const long long cap = (total + NUM_PARTS - 1) / NUM_PARTS + kOverhead;

  // Parts never opened by the walk stay empty.
  for (int p = lane; p < NUM_PARTS; p += 32) {
    int* e = parts + 8 * p;
    e[0] = batch; e[1] = 0; e[2] = batch - 1; e[3] = 0; e[4] = 0; e[5] = 0; e[6] = 0; e[7] = 0;
  }
  __syncwarp();
  if (lane != 0) return;

  // NOTES: the walk is sequential (each part starts where the previous stopped); one lane
  // does it in O(batch + parts) steps, a few microseconds for batch 128.
  int part = 0, b = 0, block = 0, splits = 0;
  long long budget = cap;
  int* e = parts;
  e[0] = 0; e[1] = 0; e[2] = -1; e[3] = 0; e[4] = 0;
  split_begin[0] = 0;
  int begin_of_b = 0;
  while (b < batch) {
    const int nb = tiles(b);
    const long long cost = nb - block + kOverhead;
    if (cost <= budget || part == NUM_PARTS - 1) {
      budget -= cost;
      e[2] = b;
      e[3] = nb;
      begin_of_b += splits + 1;
      split_begin[b + 1] = begin_of_b;
      ++b;
      block = 0;
      splits = 0;
    } else {
      const long long take = budget - kOverhead;
      if (take > 0) {
        block += static_cast<int>(take);
        ++splits;
        e[2] = b;
        e[3] = block;
      }
      ++part;
      budget = cap;
      e = parts + 8 * part;
      e[0] = b; e[1] = block; e[2] = b - 1; e[3] = 0; e[4] = splits;
    }
  }
}

}  // namespace shapejit::kernels
