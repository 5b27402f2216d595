#pragma once
// Local search over one layer's placement, shared by the refinement and the migration-aware
// rebalance. Internal to the planner.
#include <vector>

#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner::detail {

class LayerSearch {
 public:
  // `origin`, when given, is the placement whose (GPU, expert) pairs count as already in place;
  // moves are then scored as resulting load + move_cost × change in copies.
  LayerSearch(LayerPlacement& layer, const EplbTopology& topo, EplbPolicy policy, const double* expert_load,
              int experts, const LayerPlacement* origin = nullptr, double move_cost = 0.0);

  // Applies the best move that lowers the heaviest GPU while keeping every GPU it touches strictly
  // below that GPU's old load. Returns false when there is none.
  bool step();

  double max_load() const;
  int moved() const { return moved_; }
  // Writes phy2log, phyrank and logcnt back into the layer (log2phy is left to the caller).
  void commit();
  const std::vector<int>& phy2log() const { return slot_expert_; }

 private:
  struct Candidate {
    int slot = -1;
    int other_slot = -1;  // swap partner, or −1 for a replica reassignment
    int expert = -1;      // reassignment target
    double score = 0;
  };
  int held(int gpu, int e) const { return held_[size_t(gpu) * experts_ + e]; }
  int copy_delta(int gpu, int e, int change) const;
  void domain(int gpu, int& first, int& last) const;
  void consider_swaps(int g, double limit, Candidate& best) const;
  void consider_reassign(int g, double limit, Candidate& best);
  void apply(const Candidate& c);
  void move_slot(int slot, int from, int to);

  LayerPlacement& layer_;
  EplbTopology topo_;
  bool hierarchical_;
  const double* w_;
  int experts_;
  double move_cost_;
  std::vector<int> slot_expert_;
  std::vector<int> count_;     // replicas per expert
  std::vector<double> gpu_;    // GPU loads
  std::vector<int> held_;      // [gpu][expert] replicas on that GPU
  std::vector<char> origin_;   // [gpu][expert] held by the origin placement (empty: no counting)
  int moved_ = 0;
  std::vector<int> order_;     // scratch, experts by load per replica
};

}  // namespace shapejit::planner::detail
