#include "eplb_packing.hpp"

#include <algorithm>
#include <numeric>

namespace shapejit::planner::detail {

void balanced_packing(const std::vector<double>& weights, int packs, std::vector<int>& pack,
                      std::vector<int>& rank_in_pack) {
  const int n = int(weights.size());
  const int per_pack = n / packs;
  pack.assign(n, -1);
  rank_in_pack.assign(n, -1);
  if (per_pack == 1) {
    for (int i = 0; i < n; ++i) {
      pack[i] = i;
      rank_in_pack[i] = 0;
    }
    return;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return weights[a] > weights[b]; });
  std::vector<double> pack_weight(packs, 0.0);
  std::vector<int> pack_items(packs, 0);
  for (int item : order) {
    int best = -1;
    for (int p = 0; p < packs; ++p) {
      if (pack_items[p] == per_pack) continue;
      if (best < 0 || pack_weight[p] < pack_weight[best]) best = p;
    }
    pack[item] = best;
    rank_in_pack[item] = pack_items[best]++;
    pack_weight[best] += weights[item];
  }
}

void replicate(const std::vector<double>& weights, int slots, std::vector<int>& phy2log,
               std::vector<int>& phyrank, std::vector<int>& logcnt) {
  const int n = int(weights.size());
  phy2log.resize(slots);
  phyrank.assign(slots, 0);
  logcnt.assign(n, 1);
  for (int i = 0; i < n; ++i) phy2log[i] = i;
  for (int s = n; s < slots; ++s) {
    int best = 0;
    double best_share = weights[0] / logcnt[0];
    for (int e = 1; e < n; ++e) {
      const double share = weights[e] / logcnt[e];
      if (share > best_share) {
        best_share = share;
        best = e;
      }
    }
    phy2log[s] = best;
    phyrank[s] = logcnt[best]++;
  }
}

}  // namespace shapejit::planner::detail
