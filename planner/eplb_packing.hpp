#pragma once
// The two greedy primitives of EPLB, on one row of weights. Internal to the planner.
#include <vector>

namespace shapejit::planner::detail {

// Packs `weights.size()` items into `packs` packs of equal item count: heaviest item first, each
// into the lightest pack that is not full (ties: lowest pack index; equal weights: lowest item
// index first). Writes pack[i] and rank_in_pack[i] for every item.
void balanced_packing(const std::vector<double>& weights, int packs, std::vector<int>& pack,
                      std::vector<int>& rank_in_pack);

// Replicates `weights.size()` logical items into `slots` physical slots: slot i < n holds item i,
// each further slot goes to the item of highest weight per replica (ties: lowest index).
void replicate(const std::vector<double>& weights, int slots, std::vector<int>& phy2log,
               std::vector<int>& phyrank, std::vector<int>& logcnt);

}  // namespace shapejit::planner::detail
