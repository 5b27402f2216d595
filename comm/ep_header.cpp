// Cross-rank consistency check of the exchange's set-up (see ep_header.hpp).
#include "shapejit/comm/ep_header.hpp"

#include <string>

#include "shapejit/error.hpp"

namespace shapejit::comm {

void check_headers(std::span<const EpHeader> headers) {
  const int n = static_cast<int>(headers.size());
  if (n == 0) fail(Errc::invalid_argument, "EP header check: no headers");
  const EpHeader& h0 = headers[0];
  for (int r = 0; r < n; ++r) {
    const EpHeader& h = headers[r];
    if (h.magic != h0.magic || h.version != h0.version)
      fail(Errc::invalid_argument, "EP header check: rank " + std::to_string(r) +
                                       " sent no shapejit EP header (another program or version)");
    if (h.rank != r || h.num_ranks != n)
      fail(Errc::invalid_argument, "EP header check: slot " + std::to_string(r) + " holds rank " +
                                       std::to_string(h.rank) + " of " + std::to_string(h.num_ranks) +
                                       ", the group has " + std::to_string(n) + " ranks");
    auto same = [&](const char* field, long long a, long long b) {
      if (a != b)
        fail(Errc::invalid_argument, std::string("EP ranks disagree on ") + field + ": rank 0 has " +
                                         std::to_string(a) + ", rank " + std::to_string(r) + " has " +
                                         std::to_string(b));
    };
    same("hidden", h0.hidden, h.hidden);
    same("top_k", h0.top_k, h.top_k);
    same("num_experts", h0.num_experts, h.num_experts);
    same("experts_per_rank", h0.experts_per_rank, h.experts_per_rank);
    same("max_tokens", h0.max_tokens, h.max_tokens);
    same("mode (0 normal, 1 low-latency)", h0.mode, h.mode);
    same("align_m", h0.align_m, h.align_m);
    same("capacity", h0.capacity, h.capacity);
    if (h.placement != h0.placement)
      fail(Errc::invalid_argument, "EP ranks disagree on the expert placement (log2phy/logcnt): rank " +
                                       std::to_string(r) + "'s fingerprint differs from rank 0's");
  }
}

}  // namespace shapejit::comm
