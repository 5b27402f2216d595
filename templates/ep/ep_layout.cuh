#pragma once
// Conventions shared by the expert-parallel exchange kernels (host code reads them too, through
// comm/ep_layout.hpp's definitions of the same orderings).
//
// A rank routes its tokens with topk_idx [T, TOP_K] (logical expert ids, -1 none). Entry (t, j)
// of expert e uses the physical slot log2phy[e * MAX_REPLICAS + (t + rank) % logcnt[e]]; slot s
// is local expert s % EXPERTS_PER_RANK of rank s / EXPERTS_PER_RANK. A token is sent once to
// each rank that holds one of its chosen slots; send rows are ordered by destination rank, then
// token. Per-token arrays [T, TOP_K] list the token's destinations in ascending rank, -1 padded.

namespace shapejit::kernels::ep {

// Ranks are tracked in one 64-bit mask per token.
constexpr int kMaxRanks = 64;
constexpr int kLayoutThreads = 256;

// The physical slot of one entry, or -1 for no expert / an id out of range (counted by the
// caller as an error).
__device__ __forceinline__ int chosen_slot(int expert, int token, int rank, int num_experts,
                                           const int* __restrict__ log2phy,
                                           const int* __restrict__ logcnt, int max_replicas) {
  if (expert < 0 || expert >= num_experts) return -1;
  const unsigned c = static_cast<unsigned>(logcnt[expert]);
  return log2phy[expert * max_replicas + static_cast<unsigned>(token + rank) % c];
}

}  // namespace shapejit::kernels::ep
