#pragma once
// How much device memory the receive side of an exchange holds, and when it grows. Host
// arithmetic only (no GPU), so the sizing is tested on a CPU.
//
// Normal mode learns at the count exchange (where the host waits anyway) how many rows it
// receives, so its receive side is sized from that: the wire buffers (FP8 rows, 1x128 scales,
// routing info), combine's BF16 partial rows and the local experts' MoeWorkspace are reserved for
// `rows` receive rows and grow, never shrink, when a dispatch receives more than any before
// (geometrically, so a slowly growing load reallocates a few times, not every call). The
// returned partials of this rank's own send rows grow the same way. Low-latency mode keeps its
// fixed capacity (ranks · max_tokens receive rows, capacity rows per local expert), allocated once,
// so nothing is allocated during a captured step.
#include <cstddef>

#include "shapejit/runtime/moe.hpp"

namespace shapejit::comm {

// Device bytes of the receive side for `rows` receive rows of `hidden` columns and top_k routing
// entries each, with the local experts' layer `experts` (MoeWorkspace::bytes_needed).
struct EpRecvMemory {
  std::size_t wire = 0;        // received FP8 rows, scales, expert ids, weights
  std::size_t partials = 0;    // combine's BF16 partial row per receive row
  std::size_t workspace = 0;   // the local experts' MoeWorkspace
  std::size_t total() const { return wire + partials + workspace; }
};
EpRecvMemory ep_recv_memory(const runtime::MoeConfig& experts, int rows);

// Receive rows to hold after a dispatch that needs `needed` with `reserved` held now: `reserved`
// when it suffices, else at least `needed` and 1.25 · reserved, rounded up to kEpRecvRowQuantum,
// never above `limit` (ranks · max_tokens, what a dispatch can receive at most). Throws
// Error(invalid_argument) when needed > limit.
inline constexpr int kEpRecvRowQuantum = 256;
int ep_recv_rows_to_reserve(int reserved, int needed, int limit);

}  // namespace shapejit::comm
