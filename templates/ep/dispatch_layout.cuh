#pragma once
// Dispatch layout, step 1 of 3: which ranks each token goes to and where, per token chunk.
//
// Block b handles tokens [b * TOKENS_PER_BLOCK, (b + 1) * TOKENS_PER_BLOCK), kLayoutThreads at a
// time, one thread per token. Outputs:
//   slot        [T, TOP_K]  physical slot of each entry (-1 none)
//   token_dest  [T, TOP_K]  destination ranks of the token, ascending, -1 padded
//   token_pos   [T, TOP_K]  the token's position among the chunk's tokens for that rank
//   block_counts        [blocks, NUM_RANKS]                   tokens per destination
//   block_expert_counts [blocks, NUM_RANKS * EXPERTS_PER_RANK] entries per destination slot
//   bad_ids     entries whose id is outside [-1, num_experts) (atomically added; the host
//               reports them as an error — they are treated as "no expert", never indexed).
// Positions follow token order (warp ballots + per-warp counts), so the layout is
// deterministic.
#include "ep/ep_layout.cuh"

namespace shapejit::kernels {

template <int NUM_RANKS, int EXPERTS_PER_RANK, int TOP_K, int TOKENS_PER_BLOCK>
__global__ void __launch_bounds__(ep::kLayoutThreads) ep_dispatch_layout(
    const int* __restrict__ topk_idx, int num_tokens, int rank, int num_experts,
    const int* __restrict__ log2phy, const int* __restrict__ logcnt, int max_replicas,
    int* __restrict__ slot, int* __restrict__ token_dest, int* __restrict__ token_pos,
    int* __restrict__ block_counts, int* __restrict__ block_expert_counts, int* __restrict__ bad_ids) {
  static_assert(NUM_RANKS >= 1 && NUM_RANKS <= ep::kMaxRanks, "NUM_RANKS must be in [1, 64]");
  static_assert(EXPERTS_PER_RANK >= 1 && NUM_RANKS * EXPERTS_PER_RANK <= 4096, "too many slots");
  constexpr int kThreads = ep::kLayoutThreads;
  constexpr int kWarps = kThreads / 32;
  constexpr int kSlots = NUM_RANKS * EXPERTS_PER_RANK;
  __shared__ int s_warp[kWarps][NUM_RANKS];   // tokens per (warp, rank) in the current tile
  __shared__ int s_running[NUM_RANKS];        // tokens per rank in earlier tiles of this chunk
  __shared__ int s_slots[kSlots];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  for (int i = tid; i < kSlots; i += kThreads) s_slots[i] = 0;
  for (int d = tid; d < NUM_RANKS; d += kThreads) s_running[d] = 0;
  __syncthreads();

  const int first = blockIdx.x * TOKENS_PER_BLOCK;
  const int last = min(num_tokens, first + TOKENS_PER_BLOCK);
  int bad = 0;
  for (int tile = first; tile < last; tile += kThreads) {
    const int t = tile + tid;
    unsigned long long mask = 0;
    if (t < last) {
#pragma unroll
      for (int j = 0; j < TOP_K; ++j) {
        const int e = topk_idx[t * TOP_K + j];
        bad += e < -1 || e >= num_experts;
        const int s = ep::chosen_slot(e, t, rank, num_experts, log2phy, logcnt, max_replicas);
        slot[t * TOP_K + j] = s;
        if (s >= 0) {
          mask |= 1ull << (s / EXPERTS_PER_RANK);
          atomicAdd(&s_slots[s], 1);
        }
      }
    }
#pragma unroll
    for (int d = 0; d < NUM_RANKS; ++d) {
      const unsigned ballot = __ballot_sync(0xffffffffu, (mask >> d) & 1ull);
      if (lane == 0) s_warp[warp][d] = __popc(ballot);
    }
    __syncthreads();
    int n = 0;
#pragma unroll
    for (int d = 0; d < NUM_RANKS; ++d) {
      // NOTES: the ballot is recomputed rather than kept per rank: NUM_RANKS prefixes in an
      // array indexed at run time would live in local memory.
      const unsigned ballot = __ballot_sync(0xffffffffu, (mask >> d) & 1ull);
      if ((mask >> d) & 1ull) {
        int before = s_running[d];
#pragma unroll
        for (int w = 0; w < kWarps; ++w) before += w < warp ? s_warp[w][d] : 0;
        token_dest[t * TOP_K + n] = d;
        token_pos[t * TOP_K + n] = before + __popc(ballot & ((1u << lane) - 1u));
        ++n;
      }
    }
    if (t < last)
      for (int m = n; m < TOP_K; ++m) {
        token_dest[t * TOP_K + m] = -1;
        token_pos[t * TOP_K + m] = -1;
      }
    __syncthreads();
    for (int d = tid; d < NUM_RANKS; d += kThreads) {
      int sum = 0;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) sum += s_warp[w][d];
      s_running[d] += sum;
    }
    __syncthreads();
  }
  if (bad) atomicAdd(bad_ids, bad);
  for (int d = tid; d < NUM_RANKS; d += kThreads) block_counts[blockIdx.x * NUM_RANKS + d] = s_running[d];
  for (int i = tid; i < kSlots; i += kThreads) block_expert_counts[blockIdx.x * kSlots + i] = s_slots[i];
}

}  // namespace shapejit::kernels
