// Receive-side sizing of the exchange (see ep_recv_capacity.hpp).
#include "shapejit/comm/ep_recv_capacity.hpp"

#include <algorithm>
#include <string>

#include "shapejit/error.hpp"

namespace shapejit::comm {

EpRecvMemory ep_recv_memory(const runtime::MoeConfig& c, int rows) {
  if (rows < 0) fail(Errc::invalid_argument, "EP receive memory: rows = " + std::to_string(rows));
  const std::size_t n = static_cast<std::size_t>(std::max(rows, 1));
  EpRecvMemory m;
  m.wire = n * (c.hidden + 4 * (c.hidden / 128) + 4 * c.top_k + 4 * c.top_k);
  m.partials = n * c.hidden * 2;
  m.workspace = runtime::MoeWorkspace::bytes_needed(c, static_cast<int>(n));
  return m;
}

int ep_recv_rows_to_reserve(int reserved, int needed, int limit) {
  if (needed < 0 || needed > limit || limit < 1)
    fail(Errc::invalid_argument, "EP receive rows: " + std::to_string(needed) + " needed, at most " +
                                     std::to_string(limit) + " possible");
  if (needed <= reserved) return reserved;
  const long long grown = std::max<long long>(needed, reserved + reserved / 4);
  const long long rounded = (grown + kEpRecvRowQuantum - 1) / kEpRecvRowQuantum * kEpRecvRowQuantum;
  return static_cast<int>(std::min<long long>(rounded, limit));
}

}  // namespace shapejit::comm
