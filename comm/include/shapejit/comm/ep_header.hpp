#pragma once
// The small header every rank exchanges (all-gather) before its first exchange: if any rank was
// set up with another shape, mode or placement, every rank fails with the same clear error
// instead of exchanging mismatched buffers.
#include <cstdint>
#include <span>

#include "shapejit/comm/ep_placement.hpp"

namespace shapejit::comm {

enum class EpMode : std::int32_t { normal = 0, low_latency = 1 };

struct EpHeader {
  std::uint32_t magic = 0x53504550;  // "SPEP"
  std::uint32_t version = 1;
  std::int32_t rank = 0, num_ranks = 0;
  std::int32_t hidden = 0, top_k = 0, num_experts = 0, experts_per_rank = 0;
  std::int32_t max_tokens = 0, mode = 0, align_m = 0, capacity = 0;
  std::uint64_t placement = 0;       // EpPlacement::fingerprint()
};
static_assert(sizeof(EpHeader) == 56, "EpHeader is exchanged as raw bytes");

// Throws Error(invalid_argument) on the first field where rank r's header differs from rank 0's
// (naming both ranks, the field and the values), or when rank r's header does not say rank r.
void check_headers(std::span<const EpHeader> headers);

}  // namespace shapejit::comm
