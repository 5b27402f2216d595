#pragma once
// Where each logical expert lives across the expert-parallel ranks: the planner's placement
// (log2phy / logcnt, redundant replicas from EPLB) with slot p on rank p / experts_per_rank as
// local expert p % experts_per_rank. Plain host code (no CUDA, no NCCL).
#include <cstdint>
#include <vector>

namespace shapejit::planner { struct Placement; }

namespace shapejit::comm {

struct EpPlacement {
  int num_ranks = 1;
  int experts_per_rank = 1;                // physical slots (local experts) per rank
  int num_experts = 1;                     // logical experts
  std::vector<std::vector<int>> log2phy;   // [num_experts][replicas] physical slots
  std::vector<int> logcnt;                 // [num_experts] replicas in use (≥ 1)

  // One slot per expert, expert e on rank e / experts_per_rank (no redundancy).
  static EpPlacement identity(int num_experts, int num_ranks);
  // One layer of a planner placement; its GPUs are the ranks (topology.gpus == num ranks).
  static EpPlacement from_planner(const planner::Placement& placement, int layer);

  int num_slots() const { return num_ranks * experts_per_rank; }
  // The replica a (token, expert) entry of `src_rank` uses: deterministic, spreading consecutive
  // tokens (and ranks) over the replicas so that each one gets ~1/logcnt of the expert's load.
  int replica_slot(int expert, int token, int src_rank) const {
    const int c = logcnt[expert];
    return log2phy[expert][static_cast<unsigned>(token + src_rank) % static_cast<unsigned>(c)];
  }
  // Throws Error(invalid_argument) naming the first inconsistency (counts, slot ranges, a slot
  // used twice).
  void validate() const;
  // FNV-1a over the ranks, slots and replica lists: equal on every rank or the ranks disagree.
  std::uint64_t fingerprint() const;
};

}  // namespace shapejit::comm
