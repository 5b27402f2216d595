// The example from DeepSeek EPLB's README, reproduced exactly by the default (auto) mode.
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"

using namespace shapejit::planner;

namespace {
ExpertLoads oracle_loads() {
  return {2, 12, {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86,
                  20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};
}
}  // namespace

TEST(EplbOracle, DefaultModeReproducesPublishedPhy2Log) {
  const Placement p = plan_eplb(oracle_loads(), {16, 4, 2, 8});
  EXPECT_EQ(p.policy, EplbPolicy::hierarchical);
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_EQ(p.layers[0].phy2log, (std::vector<int>{5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1}));
  EXPECT_EQ(p.layers[1].phy2log, (std::vector<int>{7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}));
}

TEST(EplbOracle, LogcntAndLog2PhyMatchThePhy2Log) {
  const Placement p = plan_eplb(oracle_loads(), {16, 4, 2, 8});
  // Layer 0: experts 1, 4, 5, 10 have two replicas, the rest one.
  EXPECT_EQ(p.layers[0].logcnt, (std::vector<int>{1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1}));
  EXPECT_EQ(p.max_replicas, 2);
  EXPECT_EQ(p.layers[0].log2phy[5], (std::vector<int>{0, 2}));
  EXPECT_EQ(p.layers[0].log2phy[0], (std::vector<int>{12, -1}));
  check_placement(p);
}

TEST(EplbOracle, GreedyGpuLoadsOfTheExample) {
  const ExpertLoads loads = oracle_loads();
  const Placement p = plan_eplb(loads, {16, 4, 2, 8});
  // Layer 0 by hand: GPU 6 holds experts 0 (90) and 1 (132 / 2), GPU 7 holds 11 (86) and 1.
  const std::vector<double> g = gpu_loads(p, loads, 0);
  EXPECT_EQ(g, (std::vector<double>{121.5, 86.5, 125, 113, 147.5, 131.5, 156, 152}));
  const LoadStats s = load_stats(g);
  EXPECT_DOUBLE_EQ(s.mean, 1033.0 / 8);
  EXPECT_DOUBLE_EQ(s.max, 156.0);
}

TEST(EplbOracle, GlobalPolicyWhenGroupsDoNotDivideNodes) {
  ExpertLoads loads = oracle_loads();
  const Placement p = plan_eplb(loads, {16, 3, 2, 8});
  EXPECT_EQ(p.policy, EplbPolicy::global);
  check_placement(p);
  EXPECT_THROW(plan_eplb(loads, {16, 3, 2, 8}, {EplbPolicy::hierarchical}), shapejit::Error);
}
