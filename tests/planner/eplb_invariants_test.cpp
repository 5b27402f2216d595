// Invariants of the greedy placement and the refinement on random inputs.
#include <gtest/gtest.h>

#include <limits>

#include <random>

#include "eplb_packing.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"
#include "synthetic_loads.hpp"

using namespace shapejit::planner;

namespace {

struct Case {
  EplbTopology topo;
  int experts;
};

// Random topologies that divide evenly: groups | experts, nodes | gpus, gpus | slots.
Case random_case(std::mt19937& rng) {
  auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + rng() % v.size()); };
  Case c;
  c.topo.nodes = pick({1, 2, 4});
  c.topo.gpus = c.topo.nodes * pick({1, 2, 4, 8});
  c.topo.groups = c.topo.nodes * pick({1, 2, 4});
  c.experts = c.topo.groups * pick({1, 2, 3, 8});
  const int per_gpu_min = (c.experts + c.topo.gpus - 1) / c.topo.gpus;
  c.topo.slots = c.topo.gpus * (per_gpu_min + int(rng() % 3));
  if (rng() % 4 == 0) c.topo.groups = 1;  // one group on several nodes: the global policy
  return c;
}

void expect_groups_on_one_node(const Placement& p) {
  const int group_size = p.experts / p.topology.groups;
  const int slots_per_node = p.topology.slots / p.topology.nodes;
  for (const auto& layer : p.layers) {
    std::vector<int> node(p.topology.groups, -1);
    for (int s = 0; s < p.topology.slots; ++s) {
      const int g = layer.phy2log[s] / group_size;
      if (node[g] < 0) node[g] = s / slots_per_node;
      EXPECT_EQ(node[g], s / slots_per_node) << "group " << g << " spans two nodes";
    }
  }
}

}  // namespace

TEST(EplbInvariants, RandomTopologiesAndLoadsKeepEveryInvariant) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const Case c = random_case(rng);
    const double exponent = (trial % 4) * 0.5;
    ExpertLoads loads = synth::skewed_loads(3, c.experts, 1000 + trial, exponent);
    if (trial % 10 == 0) loads.values[0] = 0;  // an idle expert still gets a slot
    for (bool refine : {false, true}) {
      EplbReport report;
      const Placement p = plan_eplb(loads, c.topo, {EplbPolicy::automatic, refine}, &report);
      SCOPED_TRACE("trial " + std::to_string(trial) + (refine ? " refined" : " greedy"));
      ASSERT_NO_THROW(check_placement(p));
      if (p.policy == EplbPolicy::hierarchical) expect_groups_on_one_node(p);
      for (size_t l = 0; l < p.layers.size(); ++l) {
        int total = 0;
        for (int n : p.layers[l].logcnt) {
          EXPECT_GE(n, 1);
          total += n;
        }
        EXPECT_EQ(total, c.topo.slots);
        // GPU loads add up to the layer's total load.
        double sum = 0, want = 0;
        for (double g : gpu_loads(p, loads, int(l))) sum += g;
        for (int e = 0; e < c.experts; ++e) want += loads.at(int(l), e);
        EXPECT_NEAR(sum, want, 1e-9 * want);
        if (refine) {
          EXPECT_LE(report.final[l].max, report.greedy[l].max * (1 + 1e-12));
        }
      }
    }
  }
}

TEST(EplbInvariants, BalancedPackingPutsTheSameItemCountInEveryPack) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 100);
  for (int packs : {1, 2, 3, 8}) {
    for (int per_pack : {1, 2, 5, 9}) {
      std::vector<double> w(size_t(packs * per_pack));
      for (double& x : w) x = std::round(u(rng));
      std::vector<int> pack, rank;
      detail::balanced_packing(w, packs, pack, rank);
      std::vector<std::vector<int>> ranks(packs);
      for (size_t i = 0; i < w.size(); ++i) {
        ASSERT_GE(pack[i], 0);
        ASSERT_LT(pack[i], packs);
        ranks[pack[i]].push_back(rank[i]);
      }
      for (auto& r : ranks) {
        std::sort(r.begin(), r.end());
        std::vector<int> want(per_pack);
        std::iota(want.begin(), want.end(), 0);
        EXPECT_EQ(r, want) << packs << " packs × " << per_pack;
      }
    }
  }
}

TEST(EplbInvariants, ReplicationGivesExtraSlotsToTheHighestLoadPerReplica) {
  std::vector<int> phy2log, rank, cnt;
  detail::replicate({10, 40, 30, 40}, 7, phy2log, rank, cnt);
  // 40 (e1, tie to lowest) → e1: 20; 40 (e3) → e3: 20; 30 (e2) → e2: 15.
  EXPECT_EQ(phy2log, (std::vector<int>{0, 1, 2, 3, 1, 3, 2}));
  EXPECT_EQ(rank, (std::vector<int>{0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(cnt, (std::vector<int>{1, 2, 2, 2}));
}

TEST(EplbRefine, NeverWorseAndBetterOnSkewedLoads) {
  // DeepSeek-V3-like shape at a smaller layer count: 256 experts, 8 groups, 4 nodes × 8 GPUs.
  const EplbTopology topo{288, 8, 4, 32};
  const ExpertLoads loads = synth::skewed_loads(8, 256, 42, 1.0);
  EplbReport report;
  const Placement p = plan_eplb(loads, topo, {EplbPolicy::automatic, true}, &report);
  check_placement(p);
  double gain = 0;
  for (size_t l = 0; l < report.final.size(); ++l) {
    EXPECT_LE(report.final[l].max, report.greedy[l].max);
    EXPECT_DOUBLE_EQ(report.final[l].mean, report.greedy[l].mean);
    gain += report.greedy[l].max - report.final[l].max;
    const LoadStats direct = load_stats(gpu_loads(p, loads, int(l)));
    EXPECT_NEAR(direct.max, report.final[l].max, 1e-9 * direct.max);
  }
  EXPECT_GT(gain, 0) << "refinement found nothing on skewed loads";
}

TEST(EplbRefine, GlobalPolicyRefinementKeepsInvariants) {
  const EplbTopology topo{64, 1, 2, 8};
  const ExpertLoads loads = synth::skewed_loads(4, 48, 9, 1.5);
  EplbReport report;
  const Placement p = plan_eplb(loads, topo, {EplbPolicy::global, true}, &report);
  check_placement(p);
  for (size_t l = 0; l < report.final.size(); ++l) EXPECT_LE(report.final[l].max, report.greedy[l].max);
}

TEST(EplbErrors, BadShapesAndLoadsNameTheProblem) {
  const ExpertLoads ok = synth::skewed_loads(1, 16, 1, 1.0);
  auto message = [&](ExpertLoads loads, EplbTopology t, EplbPolicy policy = EplbPolicy::automatic) {
    try {
      plan_eplb(loads, t, {policy});
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(ok, {18, 4, 2, 4}).find("slots do not divide"), std::string::npos);
  EXPECT_NE(message(ok, {16, 3, 1, 4}).find("experts do not divide"), std::string::npos);
  EXPECT_NE(message(ok, {16, 4, 3, 4}).find("GPUs do not divide"), std::string::npos);
  EXPECT_NE(message(ok, {8, 4, 2, 4}).find("fewer slots than experts"), std::string::npos);
  EXPECT_NE(message(ok, {16, 2, 4, 8}, EplbPolicy::hierarchical).find("hierarchical"), std::string::npos);
  EXPECT_NE(message(ok, {1 << 20, 4, 2, 1 << 10}).find("too large"), std::string::npos);
  ExpertLoads negative = ok;
  negative.values[5] = -1;
  EXPECT_NE(message(negative, {16, 4, 2, 4}).find("expert 5"), std::string::npos);
  ExpertLoads nan = ok;
  nan.values[3] = std::nan("");
  EXPECT_NE(message(nan, {16, 4, 2, 4}).find("finite"), std::string::npos);
  // Each load finite, but their sum is not: every printed figure would be inf or nan.
  ExpertLoads huge = ok;
  for (double& v : huge.values) v = 1e308;
  EXPECT_NE(message(huge, {16, 4, 2, 4}).find("more than a double holds"), std::string::npos);
}

TEST(EplbErrors, AMoveCostMustBeFinite) {
  const ExpertLoads loads = synth::skewed_loads(1, 16, 1, 1.0);
  const Placement current = plan_eplb(loads, {16, 4, 2, 4});
  for (double cost : {std::numeric_limits<double>::infinity(), std::nan(""), -1.0, 1e308}) {
    try {
      rebalance_with_migration(current, loads, {cost});
      ADD_FAILURE() << cost;
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument) << cost;
    }
  }
}
