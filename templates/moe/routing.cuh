#pragma once
// Routing conventions shared by the two routing kernels (count and layout).
//
// topk_idx [T, TOP_K] int32 holds global expert ids. This GPU serves the NUM_EXPERTS local
// experts with ids [expert_begin, expert_begin + NUM_EXPERTS); any other id (-1 for a dropped
// choice, or an expert of another rank) is not routed here. Entries are taken in entry order
// i = t * TOP_K + j, which makes every layout stable by token.

namespace shapejit::kernels::moe {

// The local expert of one top-k entry, or -1 when the entry is not routed to this GPU.
__device__ __forceinline__ int local_expert(int global_id, int expert_begin, int num_experts) {
  const unsigned e = static_cast<unsigned>(global_id - expert_begin);
  return e < static_cast<unsigned>(num_experts) ? static_cast<int>(e) : -1;
}

}  // namespace shapejit::kernels::moe
