#include "eplb_search.hpp"

#include <algorithm>
#include <numeric>

namespace shapejit::planner::detail {
namespace {
// Reassignment only targets the experts with the highest load per replica: those are the ones
// whose extra replica lowers a GPU most, and the cap keeps a step linear in the slot count.
constexpr int kReassignTargets = 24;
}  // namespace

LayerSearch::LayerSearch(LayerPlacement& layer, const EplbTopology& topo, EplbPolicy policy,
                         const double* expert_load, int experts, const LayerPlacement* origin, double move_cost)
    : layer_(layer),
      topo_(topo),
      hierarchical_(policy == EplbPolicy::hierarchical),
      w_(expert_load),
      experts_(experts),
      move_cost_(move_cost),
      slot_expert_(layer.phy2log),
      count_(experts, 0),
      gpu_(topo.gpus, 0.0),
      held_(size_t(topo.gpus) * experts, 0) {
  const int per_gpu = topo.slots_per_gpu();
  for (int e : slot_expert_) ++count_[e];
  for (int p = 0; p < topo.slots; ++p) {
    const int e = slot_expert_[p];
    gpu_[p / per_gpu] += w_[e] / count_[e];
    ++held_[size_t(p / per_gpu) * experts_ + e];
  }
  if (origin) {
    origin_.assign(size_t(topo.gpus) * experts, 0);
    for (int p = 0; p < topo.slots; ++p) origin_[size_t(p / per_gpu) * experts_ + origin->phy2log[p]] = 1;
    for (size_t i = 0; i < held_.size(); ++i) moved_ += held_[i] > 0 && !origin_[i];
  }
}

double LayerSearch::max_load() const { return *std::max_element(gpu_.begin(), gpu_.end()); }

void LayerSearch::domain(int gpu, int& first, int& last) const {
  if (hierarchical_) {
    const int per_node = topo_.gpus_per_node();
    first = gpu / per_node * per_node;
    last = first + per_node;
  } else {
    first = 0;
    last = topo_.gpus;
  }
}

// Change in the copy count if `gpu` gains (+1) or loses (−1) one replica of `e`.
int LayerSearch::copy_delta(int gpu, int e, int change) const {
  if (origin_.empty() || origin_[size_t(gpu) * experts_ + e]) return 0;
  const int before = held(gpu, e);
  const int after = before + change;
  return int(after > 0) - int(before > 0);
}

void LayerSearch::consider_swaps(int g, double limit, Candidate& best) const {
  const int per_gpu = topo_.slots_per_gpu();
  int first, last;
  domain(g, first, last);
  for (int s = g * per_gpu; s < (g + 1) * per_gpu; ++s) {
    const int a = slot_expert_[s];
    const double ls = w_[a] / count_[a];
    for (int h = first; h < last; ++h) {
      if (h == g) continue;
      for (int t = h * per_gpu; t < (h + 1) * per_gpu; ++t) {
        const int b = slot_expert_[t];
        if (b == a) continue;
        const double d = ls - w_[b] / count_[b];
        if (d <= 0) continue;
        const double new_g = gpu_[g] - d, new_h = gpu_[h] + d;
        double worst = std::max(new_g, new_h);
        if (worst >= limit) continue;
        if (!origin_.empty()) {
          // Swap: g loses a and gains b, h the reverse; a != b, so the four entries are distinct.
          int dm = copy_delta(g, a, -1) + copy_delta(g, b, +1) + copy_delta(h, b, -1) + copy_delta(h, a, +1);
          worst += move_cost_ * dm;
        }
        if (best.slot < 0 || worst < best.score) best = {s, t, -1, worst};
      }
    }
  }
}

void LayerSearch::consider_reassign(int g, double limit, Candidate& best) {
  const int per_gpu = topo_.slots_per_gpu();
  int first, last;
  domain(g, first, last);
  // Candidate targets: experts present in the domain, by load per replica, heaviest first.
  order_.clear();
  for (int e = 0; e < experts_; ++e) {
    bool present = false;
    for (int h = first; h < last && !present; ++h) present = held(h, e) > 0;
    if (present) order_.push_back(e);
  }
  const size_t keep = std::min<size_t>(order_.size(), kReassignTargets + 1);
  std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(), [&](int x, int y) {
    const double sx = w_[x] / count_[x], sy = w_[y] / count_[y];
    return sx != sy ? sx > sy : x < y;
  });
  order_.resize(keep);
  for (int s = g * per_gpu; s < (g + 1) * per_gpu; ++s) {
    const int a = slot_expert_[s];
    if (count_[a] < 2) continue;
    const double share_a = w_[a] / count_[a], share_a_after = w_[a] / (count_[a] - 1);
    for (int b : order_) {
      if (b == a) continue;
      const double share_b = w_[b] / count_[b], share_b_after = w_[b] / (count_[b] + 1);
      // g: slot s goes from a's share to b's; a's other replicas rise, b's replicas fall.
      const double new_g = gpu_[g] - share_a + share_b_after + (held(g, a) - 1) * (share_a_after - share_a) +
                           held(g, b) * (share_b_after - share_b);
      if (new_g >= limit) continue;
      double worst = new_g;
      for (int h = first; h < last && worst < limit; ++h) {
        if (h == g) continue;
        const int ha = held(h, a), hb = held(h, b);
        if (ha == 0 && hb == 0) continue;
        worst = std::max(worst, gpu_[h] + ha * (share_a_after - share_a) + hb * (share_b_after - share_b));
      }
      if (worst >= limit) continue;
      if (!origin_.empty()) worst += move_cost_ * (copy_delta(g, a, -1) + copy_delta(g, b, +1));
      if (best.slot < 0 || worst < best.score) best = {s, -1, b, worst};
    }
  }
}

void LayerSearch::move_slot(int slot, int from, int to) {
  const int g = slot / topo_.slots_per_gpu();
  if (!origin_.empty()) moved_ += copy_delta(g, from, -1);
  --held_[size_t(g) * experts_ + from];
  if (!origin_.empty()) moved_ += copy_delta(g, to, +1);
  ++held_[size_t(g) * experts_ + to];
  slot_expert_[slot] = to;
}

void LayerSearch::apply(const Candidate& c) {
  const int s = c.slot;
  const int a = slot_expert_[s];
  if (c.other_slot >= 0) {
    const int t = c.other_slot;
    const int b = slot_expert_[t];
    move_slot(s, a, b);
    move_slot(t, b, a);
  } else {
    move_slot(s, a, c.expert);
    --count_[a];
    ++count_[c.expert];
  }
  // NOTES: recomputed from scratch (one pass over the slots) so rounding never accumulates
  // across thousands of moves; the candidate scan above costs far more.
  const int per_gpu = topo_.slots_per_gpu();
  std::fill(gpu_.begin(), gpu_.end(), 0.0);
  for (int p = 0; p < topo_.slots; ++p) gpu_[p / per_gpu] += w_[slot_expert_[p]] / count_[slot_expert_[p]];
}

bool LayerSearch::step() {
  const int g = int(std::max_element(gpu_.begin(), gpu_.end()) - gpu_.begin());
  const double limit = gpu_[g] - 1e-9 * std::max(1.0, gpu_[g]);
  Candidate best;
  consider_swaps(g, limit, best);
  consider_reassign(g, limit, best);
  if (best.slot < 0) return false;
  apply(best);
  return true;
}

void LayerSearch::commit() {
  layer_.phy2log = slot_expert_;
  rebuild_layer_maps(layer_, experts_);
}

}  // namespace shapejit::planner::detail
