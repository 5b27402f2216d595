#pragma once
// Dispatch layout, step 2 of 3: prefix sums over the chunks of ep_dispatch_layout.
//
// One block. Outputs:
//   block_offset [blocks, NUM_RANKS]  rows of rank d before chunk b (within d's rows)
//   send_offset  [NUM_RANKS + 1]      first send row of each destination (normal mode)
//   counts       [NUM_RANKS, 2 + EXPERTS_PER_RANK]  what the count exchange sends to rank d:
//                tokens, this rank's ids out of range (*bad_ids, so every rank learns of them
//                and fails alike), then entries per local expert of d
#include "ep/ep_layout.cuh"

namespace shapejit::kernels {

template <int NUM_RANKS, int EXPERTS_PER_RANK>
__global__ void __launch_bounds__(ep::kLayoutThreads) ep_send_offsets(
    const int* __restrict__ block_counts, const int* __restrict__ block_expert_counts, int num_blocks,
    const int* __restrict__ bad_ids, int* __restrict__ block_offset, int* __restrict__ send_offset, int* __restrict__ counts) {
  constexpr int kThreads = ep::kLayoutThreads;
  constexpr int kSlots = NUM_RANKS * EXPERTS_PER_RANK;
  constexpr int kRow = 2 + EXPERTS_PER_RANK;
  __shared__ int s_total[NUM_RANKS];
  const int tid = threadIdx.x;
  const int bad = *bad_ids;
  for (int d = tid; d < NUM_RANKS; d += kThreads) {
    int running = 0;
    for (int b = 0; b < num_blocks; ++b) {
      block_offset[b * NUM_RANKS + d] = running;
      running += block_counts[b * NUM_RANKS + d];
    }
    s_total[d] = running;
    counts[d * kRow] = running;
    counts[d * kRow + 1] = bad;
  }
  for (int s = tid; s < kSlots; s += kThreads) {
    int total = 0;
    for (int b = 0; b < num_blocks; ++b) total += block_expert_counts[b * kSlots + s];
    counts[(s / EXPERTS_PER_RANK) * kRow + 2 + s % EXPERTS_PER_RANK] = total;
  }
  __syncthreads();
  if (tid == 0) {
    int running = 0;
    for (int d = 0; d < NUM_RANKS; ++d) {
      send_offset[d] = running;
      running += s_total[d];
    }
    send_offset[NUM_RANKS] = running;
  }
}

}  // namespace shapejit::kernels
