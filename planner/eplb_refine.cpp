// Refinement of a greedy placement: local search that lowers the heaviest GPU.
#include "eplb_search.hpp"

namespace shapejit::planner {

int refine_layer(LayerPlacement& layer, const EplbTopology& topo, EplbPolicy policy, const double* expert_load,
                 int experts, int max_moves) {
  detail::LayerSearch search(layer, topo, policy, expert_load, experts);
  int moves = 0;
  while (moves < max_moves && search.step()) ++moves;
  search.commit();
  return moves;
}

}  // namespace shapejit::planner
