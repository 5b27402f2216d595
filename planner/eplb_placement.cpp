// Placement bookkeeping: GPU loads, replica maps, invariant checks.
#include <algorithm>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner {

std::vector<double> gpu_loads(const Placement& placement, const ExpertLoads& loads, int layer) {
  const LayerPlacement& lp = placement.layers.at(layer);
  const int per_gpu = placement.topology.slots_per_gpu();
  std::vector<double> out(placement.topology.gpus, 0.0);
  for (size_t p = 0; p < lp.phy2log.size(); ++p) {
    const int e = lp.phy2log[p];
    out[p / per_gpu] += loads.at(layer, e) / lp.logcnt[e];
  }
  return out;
}

LoadStats load_stats(const std::vector<double>& gpu_load) {
  LoadStats s;
  double total = 0;
  for (double v : gpu_load) {
    s.max = std::max(s.max, v);
    total += v;
  }
  s.mean = gpu_load.empty() ? 0 : total / double(gpu_load.size());
  return s;
}

void rebuild_layer_maps(LayerPlacement& layer, int experts) {
  layer.logcnt.assign(experts, 0);
  layer.phyrank.assign(layer.phy2log.size(), 0);
  for (size_t p = 0; p < layer.phy2log.size(); ++p) layer.phyrank[p] = layer.logcnt[layer.phy2log[p]]++;
}

void set_max_replicas(Placement& placement) {
  int width = 0;
  for (const auto& layer : placement.layers)
    for (int c : layer.logcnt) width = std::max(width, c);
  placement.max_replicas = width;
  for (auto& layer : placement.layers) {
    layer.log2phy.assign(placement.experts, std::vector<int>(width, -1));
    for (size_t p = 0; p < layer.phy2log.size(); ++p)
      layer.log2phy[layer.phy2log[p]][layer.phyrank[p]] = int(p);
  }
}

void check_placement(const Placement& pl) {
  const EplbTopology& t = pl.topology;
  const int slots_per_node = t.slots / t.nodes;
  auto bad = [](int layer, const std::string& what) {
    fail(Errc::invalid_argument, "placement layer " + std::to_string(layer) + ": " + what);
  };
  for (size_t l = 0; l < pl.layers.size(); ++l) {
    const LayerPlacement& lp = pl.layers[l];
    const int L = int(l);
    if (int(lp.phy2log.size()) != t.slots || int(lp.phyrank.size()) != t.slots)
      bad(L, "phy2log/phyrank do not have one entry per slot");
    if (int(lp.logcnt.size()) != pl.experts || int(lp.log2phy.size()) != pl.experts)
      bad(L, "logcnt/log2phy do not have one entry per expert");
    std::vector<int> seen(pl.experts, 0);
    std::vector<int> node_of(pl.experts, -1);
    for (int p = 0; p < t.slots; ++p) {
      const int e = lp.phy2log[p];
      if (e < 0 || e >= pl.experts) bad(L, "slot " + std::to_string(p) + " holds expert " + std::to_string(e));
      ++seen[e];
      if (lp.phyrank[p] < 0 || lp.phyrank[p] >= lp.logcnt[e] || int(lp.log2phy[e].size()) <= lp.phyrank[p] ||
          lp.log2phy[e][lp.phyrank[p]] != p)
        bad(L, "log2phy does not point back to slot " + std::to_string(p));
      if (pl.policy == EplbPolicy::hierarchical) {
        const int node = p / slots_per_node;
        if (node_of[e] >= 0 && node_of[e] != node)
          bad(L, "expert " + std::to_string(e) + " has replicas on two nodes");
        node_of[e] = node;
      }
    }
    int total = 0;
    for (int e = 0; e < pl.experts; ++e) {
      if (seen[e] < 1) bad(L, "expert " + std::to_string(e) + " has no slot");
      if (seen[e] != lp.logcnt[e]) bad(L, "logcnt of expert " + std::to_string(e) + " disagrees with phy2log");
      total += lp.logcnt[e];
      for (size_t r = 0; r < lp.log2phy[e].size(); ++r) {
        const int p = lp.log2phy[e][r];
        if (int(r) < lp.logcnt[e] ? (p < 0 || p >= t.slots || lp.phy2log[p] != e) : p != -1)
          bad(L, "log2phy row of expert " + std::to_string(e) + " is wrong at replica " + std::to_string(r));
      }
    }
    if (total != t.slots) bad(L, "replica counts add up to " + std::to_string(total) + ", not the slot count");
  }
}

}  // namespace shapejit::planner
