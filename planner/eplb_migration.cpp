// Migration-aware rebalancing: balance against the number of expert copies a new placement needs.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "assignment.hpp"
#include "eplb_search.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner {
namespace {

std::vector<std::set<int>> experts_per_gpu(const LayerPlacement& layer, const EplbTopology& t) {
  std::vector<std::set<int>> out(t.gpus);
  for (int p = 0; p < t.slots; ++p) out[p / t.slots_per_gpu()].insert(layer.phy2log[p]);
  return out;
}

int overlap(const std::set<int>& a, const std::set<int>& b) {
  int n = 0;
  for (int e : a) n += int(b.count(e));
  return n;
}

// Best GPU matching between one node of `fresh` and one node of `current`: returns its total
// overlap and writes target GPU (within the current node) for each fresh GPU.
int match_gpus(const std::vector<std::set<int>>& fresh, const std::vector<std::set<int>>& cur, int fresh_first,
               int cur_first, int count, std::vector<int>& target) {
  std::vector<double> weight(size_t(count) * count);
  for (int i = 0; i < count; ++i)
    for (int j = 0; j < count; ++j) weight[size_t(i) * count + j] = overlap(fresh[fresh_first + i], cur[cur_first + j]);
  const std::vector<int> col = detail::max_weight_assignment(weight, count);
  int total = 0;
  target.assign(count, -1);
  for (int i = 0; i < count; ++i) {
    target[i] = cur_first + col[i];
    total += int(weight[size_t(i) * count + col[i]]);
  }
  return total;
}

// Relabels the GPUs (and, under the hierarchical policy, whole nodes) of `fresh` so that as many
// (GPU, expert) pairs as possible stay where `current` has them; inside a GPU, an expert keeps
// its old slot when it can. Balance is unchanged: only labels move.
LayerPlacement relabel(const LayerPlacement& fresh, const LayerPlacement& current, const EplbTopology& t,
                       bool hierarchical) {
  const auto f = experts_per_gpu(fresh, t), c = experts_per_gpu(current, t);
  const int nodes = hierarchical ? t.nodes : 1;
  const int per_node = t.gpus / nodes;
  std::vector<int> gpu_target(t.gpus, -1);
  std::vector<double> node_weight(size_t(nodes) * nodes);
  std::vector<std::vector<int>> pair_target(size_t(nodes) * nodes);
  for (int a = 0; a < nodes; ++a)
    for (int b = 0; b < nodes; ++b)
      node_weight[size_t(a) * nodes + b] =
          match_gpus(f, c, a * per_node, b * per_node, per_node, pair_target[size_t(a) * nodes + b]);
  const std::vector<int> node_col = detail::max_weight_assignment(node_weight, nodes);
  for (int a = 0; a < nodes; ++a) {
    const auto& target = pair_target[size_t(a) * nodes + node_col[a]];
    for (int i = 0; i < per_node; ++i) gpu_target[a * per_node + i] = target[i];
  }
  const int spg = t.slots_per_gpu();
  LayerPlacement out;
  out.phy2log.assign(t.slots, -1);
  for (int g = 0; g < t.gpus; ++g) {
    const int to = gpu_target[g];
    std::vector<int> pending(fresh.phy2log.begin() + g * spg, fresh.phy2log.begin() + (g + 1) * spg);
    for (int k = 0; k < spg; ++k) {  // keep an expert in the slot it already occupies
      auto it = std::find(pending.begin(), pending.end(), current.phy2log[to * spg + k]);
      if (it == pending.end()) continue;
      out.phy2log[to * spg + k] = *it;
      pending.erase(it);
    }
    size_t next = 0;
    for (int k = 0; k < spg; ++k)
      if (out.phy2log[to * spg + k] < 0) out.phy2log[to * spg + k] = pending[next++];
  }
  return out;
}

LoadStats layer_stats(const LayerPlacement& layer, const EplbTopology& t, const double* w, int experts) {
  std::vector<int> count(experts, 0);
  for (int e : layer.phy2log) ++count[e];
  std::vector<double> g(t.gpus, 0.0);
  for (int p = 0; p < t.slots; ++p) g[p / t.slots_per_gpu()] += w[layer.phy2log[p]] / count[layer.phy2log[p]];
  return load_stats(g);
}

}  // namespace

int count_moved(const LayerPlacement& current, const LayerPlacement& next, const EplbTopology& t) {
  const auto c = experts_per_gpu(current, t), n = experts_per_gpu(next, t);
  int moved = 0;
  for (int g = 0; g < t.gpus; ++g) moved += int(n[g].size()) - overlap(n[g], c[g]);
  return moved;
}

Placement rebalance_with_migration(const Placement& current, const ExpertLoads& loads,
                                   const MigrationOptions& options, MigrationReport* report) {
  const EplbTopology& t = current.topology;
  const EplbPolicy policy = resolve_policy(loads, t, options.policy);
  if (current.experts != loads.experts || int(current.layers.size()) != loads.layers)
    fail(Errc::invalid_argument, "current placement has " + std::to_string(current.layers.size()) + " layers × " +
                                     std::to_string(current.experts) + " experts but the loads have " +
                                     std::to_string(loads.layers) + " × " + std::to_string(loads.experts));
  if (!(options.move_cost >= 0) || !std::isfinite(options.move_cost))
    fail(Errc::invalid_argument, "move cost must be finite and ≥ 0, got " + std::to_string(options.move_cost));
  // A layer's cost is its heaviest GPU plus move_cost × copies (at most one per slot).
  for (int l = 0; l < loads.layers; ++l) {
    double total = 0;
    for (int e = 0; e < loads.experts; ++e) total += loads.values[size_t(l) * size_t(loads.experts) + size_t(e)];
    if (!std::isfinite(total + options.move_cost * t.slots))
      fail(Errc::invalid_argument, "move cost " + std::to_string(options.move_cost) + " × " + std::to_string(t.slots) +
                                       " slots is more than a double holds");
  }
  check_placement(current);
  const bool hier = policy == EplbPolicy::hierarchical;

  Placement out;
  out.topology = t;
  out.policy = policy;
  out.experts = loads.experts;
  out.layers.resize(loads.layers);
  if (report) *report = {};
  EplbOptions fresh_options;
  fresh_options.policy = policy;
  fresh_options.refine = true;
  for (int l = 0; l < loads.layers; ++l) {
    const double* w = loads.values.data() + size_t(l) * size_t(loads.experts);
    const LayerPlacement& cur = current.layers[l];
    MigrationLayerReport r;
    r.current = layer_stats(cur, t, w, loads.experts);

    ExpertLoads one{1, loads.experts, std::vector<double>(w, w + loads.experts)};
    const Placement fresh_plan = plan_eplb(one, t, fresh_options);
    const LayerPlacement fresh = relabel(fresh_plan.layers[0], cur, t, hier);
    r.fresh = layer_stats(fresh, t, w, loads.experts);
    r.fresh_moved = count_moved(cur, fresh, t);

    LayerPlacement work = cur;
    detail::LayerSearch search(work, t, policy, w, loads.experts, &cur, options.move_cost);
    double best_cost = search.max_load();
    std::vector<int> best = search.phy2log();
    int best_moved = 0;
    for (int step = 0; step < options.max_moves && search.step(); ++step) {
      const double cost = search.max_load() + options.move_cost * search.moved();
      if (cost < best_cost - 1e-12 * std::max(1.0, best_cost)) {
        best_cost = cost;
        best = search.phy2log();
        best_moved = search.moved();
      }
    }

    const double cost_current = r.current.max;
    const double cost_fresh = r.fresh.max + options.move_cost * r.fresh_moved;
    LayerPlacement& chosen = out.layers[l];
    if (cost_current <= best_cost && cost_current <= cost_fresh) {
      chosen.phy2log = cur.phy2log;
      r.choice = "current";
      r.cost = cost_current;
      r.moved = 0;
    } else if (best_cost <= cost_fresh) {
      chosen.phy2log = best;
      r.choice = "incremental";
      r.cost = best_cost;
      r.moved = best_moved;
    } else {
      chosen.phy2log = fresh.phy2log;
      r.choice = "fresh";
      r.cost = cost_fresh;
      r.moved = r.fresh_moved;
    }
    rebuild_layer_maps(chosen, loads.experts);
    r.chosen = layer_stats(chosen, t, w, loads.experts);
    if (report) {
      report->total_moved += r.moved;
      report->layers.push_back(r);
    }
  }
  set_max_replicas(out);
  return out;
}

}  // namespace shapejit::planner
