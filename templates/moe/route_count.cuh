#pragma once
// Routing, step 1 of 2: per-chunk expert histograms.
//
// Block b counts the entries of tokens [b * TOKENS_PER_BLOCK, (b + 1) * TOKENS_PER_BLOCK) per
// local expert and writes block_counts[b * NUM_EXPERTS + e]. Counts do not depend on the order
// of the shared-memory atomics, so the result is deterministic.
#include "moe/routing.cuh"

namespace shapejit::kernels {

template <int NUM_EXPERTS, int TOP_K, int TOKENS_PER_BLOCK>
__global__ void __launch_bounds__(256) moe_route_count(const int* __restrict__ topk_idx,
                                                       int num_tokens, int expert_begin,
                                                       int* __restrict__ block_counts) {
  static_assert(NUM_EXPERTS > 0 && NUM_EXPERTS <= 1024, "NUM_EXPERTS must be in [1, 1024]");
  static_assert(TOP_K > 0 && TOKENS_PER_BLOCK > 0, "bad routing tile");
  constexpr int kThreads = 256;
  __shared__ int counts[NUM_EXPERTS];

  for (int e = threadIdx.x; e < NUM_EXPERTS; e += kThreads) counts[e] = 0;
  __syncthreads();

  const long long first = static_cast<long long>(blockIdx.x) * TOKENS_PER_BLOCK * TOP_K;
  const long long end_token = min(static_cast<long long>(num_tokens),
                                  static_cast<long long>(blockIdx.x + 1) * TOKENS_PER_BLOCK);
  const long long last = end_token * TOP_K;
  for (long long i = first + threadIdx.x; i < last; i += kThreads) {
    const int e = moe::local_expert(topk_idx[i], expert_begin, NUM_EXPERTS);
    if (e >= 0) atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < NUM_EXPERTS; e += kThreads)
    block_counts[static_cast<long long>(blockIdx.x) * NUM_EXPERTS + e] = counts[e];
}

}  // namespace shapejit::kernels
