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

// Exclusive prefix sum of one value per thread across a block of kThreads threads; *total gets
// the sum of all. scratch holds kThreads / 32 ints. Contains __syncthreads(): call from every
// thread.
template <int kThreads>
__device__ __forceinline__ int block_exclusive_sum(int value, int* scratch, int* total) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block must be whole warps");
  constexpr int kWarps = kThreads / 32;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int inclusive = value;
#pragma unroll
  for (int d = 1; d < 32; d *= 2) {
    const int up = __shfl_up_sync(0xffffffffu, inclusive, d);
    if (lane >= d) inclusive += up;
  }
  if (lane == 31) scratch[warp] = inclusive;
  __syncthreads();
  int warp_prefix = 0, sum = 0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const int t = scratch[w];
    if (w < warp) warp_prefix += t;
    sum += t;
  }
  __syncthreads();
  *total = sum;
  return warp_prefix + inclusive - value;
}

}  // namespace shapejit::kernels::moe
