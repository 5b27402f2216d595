// Low-latency mode's fixed-capacity layout (see ep_low_latency.hpp).
#include "shapejit/comm/ep_low_latency.hpp"

#include <string>

#include "shapejit/error.hpp"

namespace shapejit::comm {

long long EpLowLatencyPlan::total_overflow() const {
  long long n = 0;
  for (int v : overflow) n += v;
  return n;
}

std::vector<int> ep_low_latency_recv_expert(std::span<const EpSendPlan> plans, int rank, int max_tokens) {
  const int R = static_cast<int>(plans.size());
  const int K = R ? plans[0].top_k : 0;
  std::vector<int> out(std::size_t(R) * max_tokens * K, -1);
  for (int s = 0; s < R; ++s) {
    const EpSendPlan& p = plans[s];
    if (p.num_tokens > max_tokens)
      fail(Errc::invalid_argument, "EP low-latency: rank " + std::to_string(s) + " has " +
                                       std::to_string(p.num_tokens) + " tokens, more than max_tokens " +
                                       std::to_string(max_tokens));
    for (int row = p.send_offset[rank]; row < p.send_offset[rank + 1]; ++row)
      for (int j = 0; j < K; ++j)
        out[(std::size_t(s) * max_tokens + (row - p.send_offset[rank])) * K + j] =
            p.send_expert[std::size_t(row) * K + j];
  }
  return out;
}

EpLowLatencyPlan ep_low_latency_plan(int rank, int num_ranks, int experts_per_rank, int top_k,
                                     int max_tokens, int capacity, std::span<const int> recv_expert) {
  const int R = num_ranks, L = experts_per_rank, K = top_k;
  if (capacity < 1 || max_tokens < 1)
    fail(Errc::invalid_argument, "EP low-latency: capacity " + std::to_string(capacity) +
                                     " and max_tokens " + std::to_string(max_tokens) + " must be positive");
  const std::size_t rows = std::size_t(R) * max_tokens;
  if (recv_expert.size() != rows * K)
    fail(Errc::invalid_argument, "EP low-latency: routing info has " + std::to_string(recv_expert.size()) +
                                     " entries, expected " + std::to_string(rows * K));
  EpLowLatencyPlan p;
  p.rank = rank; p.num_ranks = R; p.experts_per_rank = L; p.top_k = K;
  p.max_tokens = max_tokens; p.capacity = capacity;
  p.masked_m.assign(L, 0);
  p.overflow.assign(L, 0);
  p.recv_slot.assign(rows * K, -1);
  p.row_to_recv.assign(std::size_t(L) * capacity, -1);
  for (std::size_t i = 0; i < rows; ++i)
    for (int j = 0; j < K; ++j) {
      const int le = recv_expert[i * K + j];
      if (le == -1) continue;
      if (le < -1 || le >= L)
        fail(Errc::invalid_argument, "EP low-latency: receive row " + std::to_string(i) +
                                         " names local expert " + std::to_string(le));
      if (p.masked_m[le] == capacity) { ++p.overflow[le]; continue; }
      const int row = le * capacity + p.masked_m[le]++;
      p.recv_slot[i * K + j] = row;
      p.row_to_recv[row] = static_cast<int>(i);
    }
  return p;
}

}  // namespace shapejit::comm
