#pragma once
// Routing, step 2 of 2: the expert-major layout.
//
// Every block reads the per-chunk histograms of moe_route_count and derives, redundantly and
// identically, each expert's row range; block b then places the entries of its own token chunk.
// Within an expert, rows follow entry order (t * TOP_K + j), so the layout is deterministic and
// does not depend on scheduling.
//
// Contiguous layout (MASKED = false): expert e owns rows [row_begin[e], row_begin[e] + n_e),
//   row_begin[e] a multiple of ALIGN_M (the grouped GEMM's M tile), rows up to the next
//   multiple are padding. row_begin[NUM_EXPERTS] is the padded total.
// Masked layout (MASKED = true): expert e owns rows [e * max_rows, e * max_rows + n_e) with
//   n_e = min(tokens, max_rows); entries past max_rows (the highest entry indices) are dropped.
//
// Outputs: tokens_per_expert[e] = n_e (masked_m for the masked GEMM); row_begin[E + 1];
// m_indices[row] = expert or -1 (padding, unused), may be null; row_to_token[row] = source
// token or -1; token_slot[t * TOP_K + j] = row or -1 (not routed here / dropped), the inverse
// map for combine. Rows in [0, num_rows) that hold no entry get -1 in both row arrays.
#include "moe/routing.cuh"

namespace shapejit::kernels {

template <int NUM_EXPERTS, int TOP_K, int TOKENS_PER_BLOCK, int ALIGN_M, bool MASKED>
__global__ void __launch_bounds__(256) moe_route_layout(
    const int* __restrict__ topk_idx, int num_tokens, int expert_begin,
    const int* __restrict__ block_counts, int max_rows, int num_rows,
    int* __restrict__ tokens_per_expert, int* __restrict__ row_begin,
    int* __restrict__ m_indices, int* __restrict__ row_to_token, int* __restrict__ token_slot) {
  static_assert(NUM_EXPERTS > 0 && NUM_EXPERTS <= 1024, "NUM_EXPERTS must be in [1, 1024]");
  static_assert(ALIGN_M > 0, "ALIGN_M must be positive");
  constexpr int kThreads = 256;
  constexpr int kWarps = kThreads / 32;
  constexpr int kExpertsPerThread = (NUM_EXPERTS + kThreads - 1) / kThreads;

  __shared__ int s_before[NUM_EXPERTS];     // entries of expert e in earlier chunks
  __shared__ int s_rows[NUM_EXPERTS];       // n_e
  __shared__ int s_begin[NUM_EXPERTS + 1];  // first row of expert e
  __shared__ int s_running[NUM_EXPERTS];    // entries of expert e placed so far by this block
  __shared__ int s_warp_count[kWarps][NUM_EXPERTS];
  __shared__ int s_scan[kWarps];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int num_blocks = gridDim.x;

  // Row ranges of every expert.
  int spans[kExpertsPerThread];
  int span_sum = 0;
#pragma unroll
  for (int k = 0; k < kExpertsPerThread; ++k) {
    const int e = tid * kExpertsPerThread + k;
    spans[k] = 0;
    if (e >= NUM_EXPERTS) continue;
    int before = 0, total = 0;
    for (int b = 0; b < num_blocks; ++b) {
      const int c = block_counts[b * NUM_EXPERTS + e];
      before += b < static_cast<int>(blockIdx.x) ? c : 0;
      total += c;
    }
    const int rows = MASKED ? min(total, max_rows) : total;
    spans[k] = MASKED ? max_rows : (total + ALIGN_M - 1) / ALIGN_M * ALIGN_M;
    s_before[e] = before;
    s_rows[e] = rows;
    s_running[e] = 0;
    span_sum += spans[k];
  }
  for (int i = tid; i < kWarps * NUM_EXPERTS; i += kThreads) (&s_warp_count[0][0])[i] = 0;
  int all_rows = 0;
  int offset = moe::block_exclusive_sum<kThreads>(span_sum, s_scan, &all_rows);
#pragma unroll
  for (int k = 0; k < kExpertsPerThread; ++k) {
    const int e = tid * kExpertsPerThread + k;
    if (e < NUM_EXPERTS) s_begin[e] = offset;
    offset += spans[k];
  }
  if (tid == 0) s_begin[NUM_EXPERTS] = all_rows;
  __syncthreads();

  if (blockIdx.x == 0) {
    for (int e = tid; e < NUM_EXPERTS; e += kThreads) {
      tokens_per_expert[e] = s_rows[e];
      row_begin[e] = s_begin[e];
    }
    if (tid == 0) row_begin[NUM_EXPERTS] = all_rows;
  }

  // Place this chunk's entries, one tile of kThreads entries at a time, in entry order.
  const int first = blockIdx.x * TOKENS_PER_BLOCK * TOP_K;
  const int last = min(num_tokens, static_cast<int>(blockIdx.x + 1) * TOKENS_PER_BLOCK) * TOP_K;
  for (int tile = first; tile < last; tile += kThreads) {
    const int i = tile + tid;
    const int e = i < last ? moe::local_expert(topk_idx[i], expert_begin, NUM_EXPERTS) : -1;
    // NOTES: lanes holding the same expert rank themselves by lane order inside the warp and by
    // the per-warp counts across warps; that reproduces entry order without a sort.
    const unsigned peers = __match_any_sync(0xffffffffu, e);
    const int lane_rank = __popc(peers & ((1u << lane) - 1u));
    const bool leader = lane_rank == 0;
    if (e >= 0 && leader) s_warp_count[warp][e] = __popc(peers);
    __syncthreads();
    int next_running = -1;
    if (e >= 0) {
      int before = 0;
      bool last_warp = true;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const int c = s_warp_count[w][e];
        if (w < warp) before += c;
        if (w > warp && c != 0) last_warp = false;
      }
      const int rank = s_before[e] + s_running[e] + before + lane_rank;
      if (last_warp && (peers >> lane) == 1u) next_running = s_running[e] + before + lane_rank + 1;
      int row = -1;
      if (rank < s_rows[e]) {
        row = s_begin[e] + rank;
        row_to_token[row] = i / TOP_K;
      }
      token_slot[i] = row;
    } else if (i < last) {
      token_slot[i] = -1;
    }
    __syncthreads();
    if (e >= 0 && leader) s_warp_count[warp][e] = 0;
    if (next_running >= 0) s_running[e] = next_running;
    __syncwarp();
  }

  // Row metadata for every row that holds no entry, grid-wide; rows holding entries got their
  // token above (disjoint writes, so no ordering between blocks is needed).
  for (int r = blockIdx.x * kThreads + tid; r < num_rows; r += num_blocks * kThreads) {
    int lo = 0, hi = NUM_EXPERTS;  // last e with s_begin[e] <= r
    while (hi - lo > 1) {
      const int mid = (lo + hi) / 2;
      if (s_begin[mid] <= r) lo = mid; else hi = mid;
    }
    const bool valid = r < all_rows && r - s_begin[lo] < s_rows[lo];
    if (m_indices != nullptr) m_indices[r] = valid ? lo : -1;
    if (!valid) row_to_token[r] = -1;
  }
}

}  // namespace shapejit::kernels
