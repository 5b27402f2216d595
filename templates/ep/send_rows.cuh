#pragma once
// Dispatch layout, step 3 of 3: each token's send rows and each send row's routing info.
//
// One thread per token. Row of the token's n-th destination d:
//   normal mode       send_offset[d] + block_offset[b, d] + token_pos[t, n]
//   LOW_LATENCY mode  d * max_tokens + block_offset[b, d] + token_pos[t, n]   (fixed blocks)
// Outputs:
//   token_rows  [T, TOP_K]       the token's send rows, ascending rank, -1 padded; it is the
//                                token_slot of the FP8 pack (moe_dispatch_fp8, row-major scales)
//                                and, for combine, where each returned partial row lands
//   send_expert [rows, TOP_K]    local expert on the destination of entry j, -1 elsewhere
//   send_weight [rows, TOP_K]    its weight (0 where -1)
// In low-latency mode the caller sets send_expert to -1 first, so unused rows say "nothing".
#include "ep/ep_layout.cuh"

namespace shapejit::kernels {

template <int NUM_RANKS, int EXPERTS_PER_RANK, int TOP_K, int TOKENS_PER_BLOCK, bool LOW_LATENCY>
__global__ void __launch_bounds__(ep::kLayoutThreads) ep_send_rows(
    const int* __restrict__ slot, const int* __restrict__ token_dest, const int* __restrict__ token_pos,
    const float* __restrict__ topk_weights, int num_tokens, const int* __restrict__ block_offset,
    const int* __restrict__ send_offset, int max_tokens, int* __restrict__ token_rows,
    int* __restrict__ send_expert, float* __restrict__ send_weight) {
  const int t = blockIdx.x * ep::kLayoutThreads + threadIdx.x;
  if (t >= num_tokens) return;
  const int b = t / TOKENS_PER_BLOCK;
#pragma unroll
  for (int n = 0; n < TOP_K; ++n) {
    const int d = token_dest[t * TOP_K + n];
    if (d < 0) {
      token_rows[t * TOP_K + n] = -1;
      continue;
    }
    const int base = LOW_LATENCY ? d * max_tokens : send_offset[d];
    const long long row = base + block_offset[b * NUM_RANKS + d] + token_pos[t * TOP_K + n];
    token_rows[t * TOP_K + n] = static_cast<int>(row);
#pragma unroll
    for (int j = 0; j < TOP_K; ++j) {
      const int s = slot[t * TOP_K + j];
      const bool here = s >= 0 && s / EXPERTS_PER_RANK == d;
      send_expert[row * TOP_K + j] = here ? s % EXPERTS_PER_RANK : -1;
      send_weight[row * TOP_K + j] = here ? topk_weights[t * TOP_K + j] : 0.0f;
    }
  }
}

}  // namespace shapejit::kernels
