// The expert placement as the exchange sees it (see ep_placement.hpp).
#include "shapejit/comm/ep_placement.hpp"

#include <string>

#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"

namespace shapejit::comm {

EpPlacement EpPlacement::identity(int num_experts, int num_ranks) {
  if (num_ranks < 1 || num_experts < num_ranks || num_experts % num_ranks != 0)
    fail(Errc::invalid_argument, "EP placement: " + std::to_string(num_experts) +
                                     " experts do not split evenly over " +
                                     std::to_string(num_ranks) + " ranks");
  EpPlacement p;
  p.num_ranks = num_ranks;
  p.num_experts = num_experts;
  p.experts_per_rank = num_experts / num_ranks;
  p.logcnt.assign(num_experts, 1);
  p.log2phy.resize(num_experts);
  for (int e = 0; e < num_experts; ++e) p.log2phy[e] = {e};
  return p;
}

EpPlacement EpPlacement::from_planner(const planner::Placement& placement, int layer) {
  if (layer < 0 || layer >= static_cast<int>(placement.layers.size()))
    fail(Errc::invalid_argument, "EP placement: layer " + std::to_string(layer) +
                                     " is not in the plan (" +
                                     std::to_string(placement.layers.size()) + " layers)");
  const auto& l = placement.layers[layer];
  EpPlacement p;
  p.num_ranks = placement.topology.gpus;
  p.experts_per_rank = placement.topology.slots_per_gpu();
  p.num_experts = placement.experts;
  p.logcnt = l.logcnt;
  p.log2phy.resize(placement.experts);
  for (int e = 0; e < placement.experts; ++e)
    for (int r = 0; r < l.logcnt[e]; ++r) p.log2phy[e].push_back(l.log2phy[e][r]);
  p.validate();
  return p;
}

void EpPlacement::validate() const {
  auto bad = [](const std::string& what) { fail(Errc::invalid_argument, "EP placement: " + what); };
  if (num_ranks < 1 || experts_per_rank < 1 || num_experts < 1)
    bad("ranks, experts per rank and experts must be positive");
  if (static_cast<int>(logcnt.size()) != num_experts || static_cast<int>(log2phy.size()) != num_experts)
    bad("log2phy/logcnt have " + std::to_string(log2phy.size()) + "/" +
        std::to_string(logcnt.size()) + " entries for " + std::to_string(num_experts) + " experts");
  std::vector<char> used(num_slots(), 0);
  for (int e = 0; e < num_experts; ++e) {
    if (logcnt[e] < 1 || logcnt[e] > static_cast<int>(log2phy[e].size()))
      bad("expert " + std::to_string(e) + " has logcnt " + std::to_string(logcnt[e]));
    for (int r = 0; r < logcnt[e]; ++r) {
      const int s = log2phy[e][r];
      if (s < 0 || s >= num_slots())
        bad("expert " + std::to_string(e) + " replica " + std::to_string(r) + " is slot " +
            std::to_string(s) + ", outside [0, " + std::to_string(num_slots()) + ")");
      if (used[s]++) bad("slot " + std::to_string(s) + " holds two replicas");
    }
  }
}

std::uint64_t EpPlacement::fingerprint() const {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::int64_t v) {
    for (int i = 0; i < 8; ++i) { h ^= static_cast<std::uint8_t>(v >> (8 * i)); h *= 1099511628211ull; }
  };
  mix(num_ranks); mix(experts_per_rank); mix(num_experts);
  for (int e = 0; e < num_experts; ++e) {
    mix(logcnt[e]);
    for (int r = 0; r < logcnt[e]; ++r) mix(log2phy[e][r]);
  }
  return h;
}

}  // namespace shapejit::comm
