#pragma once
// Low-latency mode: entries the fixed capacity per local expert dropped. From the receive
// routing's per-chunk histograms (moe_route_count over the received routing info), adds
// max(0, total_e - capacity) to overflow[e] and their sum to overflow[NUM_EXPERTS]. Counters
// accumulate across calls (the host reads and resets them), so no host synchronization is
// needed in the step itself. One block.
namespace shapejit::kernels {

template <int NUM_EXPERTS>
__global__ void __launch_bounds__(256) ep_count_overflow(const int* __restrict__ block_counts,
                                                         int num_blocks, int capacity,
                                                         int* __restrict__ overflow) {
  for (int e = threadIdx.x; e < NUM_EXPERTS; e += 256) {
    int total = 0;
    for (int b = 0; b < num_blocks; ++b) total += block_counts[b * NUM_EXPERTS + e];
    const int dropped = max(0, total - capacity);
    if (dropped) {
      atomicAdd(&overflow[e], dropped);
      atomicAdd(&overflow[NUM_EXPERTS], dropped);
    }
  }
}

}  // namespace shapejit::kernels
