#pragma once
// The overlap chooser: for each phase of a cost profile, whether to split a step into two
// micro-batches (and at which token count), how many SMs to reserve for communication, and the
// step time and throughput that follow, with the reasoning in words.
//
// Model of one MoE layer for a micro-batch x: attention A_x → dispatch D_x → experts E_x (routed
// GEMMs + shared expert) → combine K_x → next layer.
// - One micro-batch: A, D, E, K run one after another; compute has every SM, communication the
//   reserved ones (nothing overlaps).
// - Two micro-batches: a compute stream (SMs − reserved) runs A_a A_b E_a E_b per layer and a
//   communication stream (reserved SMs) runs D_a D_b K_a K_b, each op starting when its stream is
//   free and its input is ready; so one micro-batch's communication hides under the other's
//   compute. All the phase's MoE layers are simulated; other time is added per step.
#include <string>
#include <vector>

#include "shapejit/planner/cost_profile.hpp"

namespace shapejit::planner {

struct OverlapCandidate {
  bool split = false;
  int tokens[2] = {0, 0};  // micro-batch sizes (second is 0 without a split)
  int comm_sms = 0;
  double layer_us = 0;     // average per MoE layer
  double step_us = 0;      // all MoE layers + other
  double tokens_per_s = 0; // per GPU
  double compute_us = 0;   // per layer, sum of compute ops on the SMs they get
  double comm_us = 0;      // per layer, sum of communication ops
};

struct OverlapChoice {
  std::string phase;
  OverlapCandidate best;
  OverlapCandidate best_unsplit;     // best one-micro-batch candidate, for comparison
  OverlapCandidate best_even_split;  // best split at (nearly) half, for comparison
  std::vector<OverlapCandidate> evaluated;
  std::vector<std::string> reasoning;
};

OverlapCandidate evaluate_overlap(const PhaseProfile& phase, int sms, bool split, int first_tokens, int comm_sms);
OverlapChoice choose_overlap(const PhaseProfile& phase, int sms);
std::vector<OverlapChoice> choose_overlap(const CostProfile& profile);

}  // namespace shapejit::planner
