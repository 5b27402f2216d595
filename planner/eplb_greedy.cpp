// The EPLB greedy placement: hierarchical (groups → nodes → GPUs) and global policies.
#include <cmath>
#include <string>

#include "eplb_packing.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner {
namespace {

std::string topo_text(const ExpertLoads& loads, const EplbTopology& t) {
  return std::to_string(loads.experts) + " experts, " + std::to_string(t.slots) + " slots, " +
         std::to_string(t.groups) + " groups, " + std::to_string(t.nodes) + " nodes, " +
         std::to_string(t.gpus) + " GPUs";
}

// One layer of the hierarchical policy; the global policy is this with one group and one node.
void place_layer(const double* w, int experts, int slots, int groups, int nodes, int gpus,
                 LayerPlacement& out) {
  const int group_size = experts / groups;
  const int groups_per_node = groups / nodes;
  const int experts_per_node = experts / nodes;
  const int slots_per_node = slots / nodes;
  const int gpus_per_node = gpus / nodes;
  const int slots_per_gpu = slots / gpus;

  // Step 1: expert groups onto nodes, balanced by the group's total load.
  std::vector<double> group_load(groups, 0.0);
  for (int e = 0; e < experts; ++e) group_load[e / group_size] += w[e];
  std::vector<int> group_node, group_rank;
  detail::balanced_packing(group_load, nodes, group_node, group_rank);
  // log2mlog: position of a logical expert in the node-major ("mlog") order.
  std::vector<int> log2mlog(experts), mlog2log(experts);
  for (int e = 0; e < experts; ++e) {
    const int g = e / group_size;
    log2mlog[e] = (group_node[g] * groups_per_node + group_rank[g]) * group_size + e % group_size;
    mlog2log[log2mlog[e]] = e;
  }

  out.phy2log.assign(slots, -1);
  out.phyrank.assign(slots, 0);
  out.logcnt.assign(experts, 0);
  std::vector<double> node_w(experts_per_node), slot_w(slots_per_node);
  std::vector<int> phy2mlog, phyrank, mlogcnt, pack, rank_in_pack;
  for (int node = 0; node < nodes; ++node) {
    const int base = node * experts_per_node;
    for (int j = 0; j < experts_per_node; ++j) node_w[j] = w[mlog2log[base + j]];
    // Step 2: replicate hot experts within the node.
    detail::replicate(node_w, slots_per_node, phy2mlog, phyrank, mlogcnt);
    // Step 3: pack the node's replicas onto its GPUs.
    for (int i = 0; i < slots_per_node; ++i) slot_w[i] = node_w[phy2mlog[i]] / mlogcnt[phy2mlog[i]];
    detail::balanced_packing(slot_w, gpus_per_node, pack, rank_in_pack);
    for (int i = 0; i < slots_per_node; ++i) {
      const int slot = node * slots_per_node + pack[i] * slots_per_gpu + rank_in_pack[i];
      out.phy2log[slot] = mlog2log[base + phy2mlog[i]];
      out.phyrank[slot] = phyrank[i];
    }
    for (int j = 0; j < experts_per_node; ++j) out.logcnt[mlog2log[base + j]] = mlogcnt[j];
  }
}

}  // namespace

const char* to_string(EplbPolicy policy) {
  switch (policy) {
    case EplbPolicy::automatic: return "auto";
    case EplbPolicy::hierarchical: return "hierarchical";
    case EplbPolicy::global: return "global";
  }
  return "?";
}

EplbPolicy parse_eplb_policy(const std::string& text) {
  if (text == "auto") return EplbPolicy::automatic;
  if (text == "hierarchical") return EplbPolicy::hierarchical;
  if (text == "global") return EplbPolicy::global;
  fail(Errc::invalid_argument, "unknown EPLB policy '" + text + "' (expected auto, hierarchical or global)");
}

EplbPolicy resolve_policy(const ExpertLoads& loads, const EplbTopology& t, EplbPolicy requested) {
  if (loads.layers <= 0 || loads.experts <= 0)
    fail(Errc::invalid_argument, "expert loads are empty: need at least one layer and one expert");
  if (loads.values.size() != size_t(loads.layers) * size_t(loads.experts))
    fail(Errc::invalid_argument, "expert loads hold " + std::to_string(loads.values.size()) +
                                     " values, expected layers × experts = " +
                                     std::to_string(loads.layers) + " × " + std::to_string(loads.experts));
  for (size_t i = 0; i < loads.values.size(); ++i) {
    const double v = loads.values[i];
    if (!std::isfinite(v) || v < 0)
      fail(Errc::invalid_argument, "expert load at layer " + std::to_string(i / loads.experts) + ", expert " +
                                       std::to_string(i % loads.experts) + " is " + std::to_string(v) +
                                       ": loads must be finite and ≥ 0");
  }
  // Every figure the planner prints (a GPU's load, a mean, a migration cost) is a sum of at most
  // one layer's loads; each value finite is not enough when they add up past a double.
  for (int l = 0; l < loads.layers; ++l) {
    double total = 0;
    for (int e = 0; e < loads.experts; ++e) total += loads.values[size_t(l) * size_t(loads.experts) + size_t(e)];
    if (!std::isfinite(total))
      fail(Errc::invalid_argument, "expert loads of layer " + std::to_string(l) +
                                       " add up to more than a double holds; scale them down");
  }
  if (t.slots <= 0 || t.groups <= 0 || t.nodes <= 0 || t.gpus <= 0)
    fail(Errc::invalid_argument, "slots, groups, nodes and GPUs must all be positive (" + topo_text(loads, t) + ")");
  // NOTES: bounds that keep a typo from turning into minutes of work or gigabytes of memory; the
  // local search keeps a GPUs × experts table.
  if (t.slots > 65536 || double(t.gpus) * loads.experts > double(1 << 24))
    fail(Errc::invalid_argument, "problem too large (" + topo_text(loads, t) +
                                     "): at most 65536 slots and 2^24 GPU × expert pairs");
  if (t.slots < loads.experts)
    fail(Errc::invalid_argument, "fewer slots than experts (" + topo_text(loads, t) + "): every expert needs a slot");
  if (t.gpus % t.nodes != 0)
    fail(Errc::invalid_argument, "GPUs do not divide evenly among nodes (" + topo_text(loads, t) + ")");
  if (t.slots % t.gpus != 0)
    fail(Errc::invalid_argument, "slots do not divide evenly among GPUs (" + topo_text(loads, t) + ")");
  if (loads.experts % t.groups != 0)
    fail(Errc::invalid_argument, "experts do not divide evenly into groups (" + topo_text(loads, t) + ")");
  const bool groups_fit = t.groups % t.nodes == 0;
  if (requested == EplbPolicy::hierarchical && !groups_fit)
    fail(Errc::invalid_argument, "hierarchical policy needs groups divisible by nodes (" + topo_text(loads, t) +
                                     "); use --policy global or auto");
  if (requested == EplbPolicy::automatic) return groups_fit ? EplbPolicy::hierarchical : EplbPolicy::global;
  return requested;
}

Placement plan_eplb(const ExpertLoads& loads, const EplbTopology& topo, const EplbOptions& options,
                    EplbReport* report) {
  Placement placement;
  placement.topology = topo;
  placement.policy = resolve_policy(loads, topo, options.policy);
  placement.experts = loads.experts;
  placement.layers.resize(loads.layers);
  const bool hier = placement.policy == EplbPolicy::hierarchical;
  if (report) *report = {};
  for (int l = 0; l < loads.layers; ++l) {
    const double* w = loads.values.data() + size_t(l) * size_t(loads.experts);
    LayerPlacement& layer = placement.layers[l];
    place_layer(w, loads.experts, topo.slots, hier ? topo.groups : 1, hier ? topo.nodes : 1, topo.gpus, layer);
    if (!report && !options.refine) continue;
    placement.max_replicas = 0;  // gpu_loads below needs only phy2log and logcnt
    const LoadStats before = load_stats(gpu_loads(placement, loads, l));
    int moves = 0;
    if (options.refine)
      moves = refine_layer(layer, topo, placement.policy, w, loads.experts, options.refine_max_moves);
    if (report) {
      report->greedy.push_back(before);
      report->final.push_back(options.refine ? load_stats(gpu_loads(placement, loads, l)) : before);
      report->refine_moves.push_back(moves);
    }
  }
  set_max_replicas(placement);
  return placement;
}

}  // namespace shapejit::planner
