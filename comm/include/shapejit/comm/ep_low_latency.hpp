#pragma once
// Low-latency (decode) mode of the exchange, as host code: sizes are fixed so that nothing waits
// for the host and the whole step can be captured in a CUDA graph.
//
// Every source sends each destination a block of max_tokens rows (a token goes at most once per
// rank): the first send_count[d] rows are tokens in send order, the rest carry routing info −1
// and are ignored. The receiver lays the (row, k) pairs of local expert le out in the masked
// layout [L, capacity]: in (source, row, k) order, the first `capacity` pairs get rows
// le·capacity + position; later ones are dropped, counted in overflow[le] and never written.
// masked_m[le] = min(pairs, capacity) is what the masked grouped GEMM reads.
#include <span>
#include <vector>

#include "shapejit/comm/ep_layout.hpp"

namespace shapejit::comm {

struct EpLowLatencyPlan {
  int rank = 0, num_ranks = 0, experts_per_rank = 0, top_k = 0;
  int max_tokens = 0, capacity = 0;
  std::vector<int> masked_m;     // [L]
  std::vector<int> overflow;     // [L] pairs dropped past capacity
  std::vector<int> recv_slot;    // [R · max_tokens, k] masked row of each kept pair, −1
  std::vector<int> row_to_recv;  // [L · capacity] receive row of each masked row, −1 unused
  long long total_overflow() const;
};

// The fixed-size receive block's routing info of `rank` ([R · max_tokens, k], −1 on unused rows)
// from all ranks' send plans. Throws Error(invalid_argument) when a rank has more than
// max_tokens tokens.
std::vector<int> ep_low_latency_recv_expert(std::span<const EpSendPlan> plans, int rank, int max_tokens);

EpLowLatencyPlan ep_low_latency_plan(int rank, int num_ranks, int experts_per_rank, int top_k,
                                     int max_tokens, int capacity, std::span<const int> recv_expert);

// The row of send row `row` (to rank d) in the source's fixed send buffer [R · max_tokens].
inline int ep_low_latency_send_row(const EpSendPlan& plan, int row, int max_tokens) {
  int d = 0;
  while (row >= plan.send_offset[d + 1]) ++d;
  return d * max_tokens + (row - plan.send_offset[d]);
}

}  // namespace shapejit::comm
