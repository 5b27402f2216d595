#pragma once
// One rank's end-to-end check of the EP path on a GPU: every rank builds the same random world
// (same seed), runs dispatch and combine over the group, and checks every received row (FP8
// bytes and scales, expert-major layout) and every combined output against the host plans and
// the independent model. Used by the one-GPU gtest (a group of one) and by ep_rank_check, the
// per-process program of the multi-rank launcher (scripts/ep_multirank.sh).
#include <string>

#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/ep_header.hpp"

namespace shapejit::test {

struct EpCheckOptions {
  comm::EpMode mode = comm::EpMode::normal;
  int experts_per_rank_base = 4;   // logical experts = ranks · this
  int extra_slots = 1;             // redundant slots per rank (replicas of the heaviest experts)
  int top_k = 4;
  int max_tokens = 256;
  int hidden = 1024;
  int capacity = 128;              // low-latency rows per local expert
  unsigned seed = 1;
  double skew = 1.0;
  // Tokens given to dispatch: "bf16" (quantized on the way out), "fp8" (E4M3 + row-major 1x128
  // scales, sent as given) or "fp8-m-major" (M-major scales with a padded stride).
  std::string input = "bf16";
  // Failure injection: "" none; "hidden" this rank (if rank == fail_rank) sets up another hidden;
  // "bad-id" it routes an expert id out of range.
  std::string fail;
  int fail_rank = -1;
};

struct EpCheckResult {
  long long rows_checked = 0, outputs_checked = 0, overflow = 0;
  double max_abs_err = 0;
  std::string report;   // one line
};

// Throws what the EP path throws; fails (returns false with the reason in report) on the first
// mismatch.
bool run_ep_world_check(comm::EpGroup& group, const EpCheckOptions& options, EpCheckResult& result);

}  // namespace shapejit::test
