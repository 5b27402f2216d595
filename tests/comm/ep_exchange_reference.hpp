#pragma once
// An independent host model of the whole expert-parallel exchange, written from the definition
// (not from comm/ep_layout.cpp): for every rank, which (source, token, k) entries each local
// expert processes and in which order, and what each source's combined output is.
#include <cstdint>
#include <random>
#include <vector>

#include "shapejit/comm/ep_placement.hpp"

namespace shapejit::test {

struct EpWorld {
  comm::EpPlacement placement;
  int top_k = 0;
  std::vector<int> tokens;                     // [R] tokens per rank
  std::vector<std::vector<int>> topk_idx;      // [R][T_r · k]
  std::vector<std::vector<float>> topk_weights;
};

struct EpEntry {
  int src, token, k;
  bool operator==(const EpEntry&) const = default;
};

// expected[d][le]: entries local expert le of rank d processes, in (source, token, k) order.
std::vector<std::vector<std::vector<EpEntry>>> reference_expert_entries(const EpWorld& w);

// The expert output row of (logical expert, source, token), column c: what every replica of
// that expert computes for that token.
float reference_expert_output(int expert, int src, int token, int c);

// out[s][t · cols + c] = Σ over destination ranks d ascending of
//   round(Σ over k ascending with entry k on rank d of w · expert_output(e_k, s, t, c)).
std::vector<std::vector<float>> reference_combine(const EpWorld& w, int cols, float (*round)(float));

// A random world: skew > 0 concentrates routing on low expert ids (Zipf-like), replicas > 0
// gives that many extra slots to the heaviest experts (so experts_per_rank grows).
EpWorld random_world(std::mt19937& rng, int num_ranks, int num_experts, int top_k, int max_tokens,
                     double skew, int extra_slots_per_rank, double drop_fraction);

}  // namespace shapejit::test
