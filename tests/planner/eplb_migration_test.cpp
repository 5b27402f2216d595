// Migration-aware rebalancing: the cost model and its extremes.
#include <gtest/gtest.h>

#include <set>

#include "shapejit/error.hpp"
#include "shapejit/planner/eplb.hpp"
#include "synthetic_loads.hpp"

using namespace shapejit::planner;

namespace {
const EplbTopology kTopo{80, 8, 2, 16};

Placement swap_gpus(Placement p, int a, int b) {
  const int spg = p.topology.slots_per_gpu();
  for (auto& layer : p.layers) {
    for (int k = 0; k < spg; ++k) std::swap(layer.phy2log[a * spg + k], layer.phy2log[b * spg + k]);
    rebuild_layer_maps(layer, p.experts);
  }
  set_max_replicas(p);
  return p;
}
}  // namespace

TEST(EplbMigration, CountMovedCountsNewGpuExpertPairs) {
  const ExpertLoads loads = synth::skewed_loads(1, 64, 3, 1.0);
  const Placement p = plan_eplb(loads, kTopo);
  EXPECT_EQ(count_moved(p.layers[0], p.layers[0], kTopo), 0);
  const Placement q = swap_gpus(p, 0, 1);
  // Every distinct expert of GPUs 0 and 1 now sits on the other GPU, unless both held it.
  int want = 0;
  for (int g : {0, 1}) {
    std::set<int> mine, other;
    for (int k = 0; k < 5; ++k) mine.insert(p.layers[0].phy2log[g * 5 + k]);
    for (int k = 0; k < 5; ++k) other.insert(p.layers[0].phy2log[(1 - g) * 5 + k]);
    for (int e : other) want += mine.count(e) ? 0 : 1;
  }
  EXPECT_GT(want, 0);
  EXPECT_EQ(count_moved(p.layers[0], q.layers[0], kTopo), want);
}

TEST(EplbMigration, FreshPlacementIsRelabelledOntoTheCurrentGpus) {
  // The current placement is the fresh one with two GPUs swapped: relabelling must find it again.
  const ExpertLoads loads = synth::skewed_loads(3, 64, 5, 1.2);
  const Placement fresh = plan_eplb(loads, kTopo, {EplbPolicy::automatic, true});
  const Placement current = swap_gpus(fresh, 2, 3);
  MigrationReport report;
  const Placement out = rebalance_with_migration(current, loads, {1e-6}, &report);
  for (const auto& r : report.layers) EXPECT_EQ(r.fresh_moved, 0);
  EXPECT_EQ(report.total_moved, 0);
  for (size_t l = 0; l < out.layers.size(); ++l) EXPECT_EQ(out.layers[l].phy2log, current.layers[l].phy2log);
}

TEST(EplbMigration, ExpensiveMovesCopyNothing) {
  const ExpertLoads old_loads = synth::skewed_loads(4, 64, 11, 1.0);
  const ExpertLoads new_loads = synth::skewed_loads(4, 64, 12, 1.0);
  const Placement current = plan_eplb(old_loads, kTopo);
  MigrationReport report;
  const Placement out = rebalance_with_migration(current, new_loads, {1e12}, &report);
  // Only free changes are allowed: a slot may switch to an expert its GPU already holds (a local
  // copy), so the balance may still improve, but no GPU gains an expert it did not have.
  EXPECT_EQ(report.total_moved, 0);
  for (size_t l = 0; l < out.layers.size(); ++l) {
    EXPECT_EQ(count_moved(current.layers[l], out.layers[l], kTopo), 0);
    EXPECT_LE(report.layers[l].chosen.max, report.layers[l].current.max);
    EXPECT_NE(report.layers[l].choice, "fresh");
  }
}

TEST(EplbMigration, FreeMovesReachTheBestBalanceAndCostsAddUp) {
  const ExpertLoads old_loads = synth::skewed_loads(4, 64, 21, 1.0);
  const ExpertLoads new_loads = synth::skewed_loads(4, 64, 22, 1.3);
  const Placement current = plan_eplb(old_loads, kTopo);
  for (double move_cost : {0.0, 20.0, 200.0}) {
    MigrationReport report;
    const Placement out = rebalance_with_migration(current, new_loads, {move_cost}, &report);
    check_placement(out);
    int total = 0;
    for (size_t l = 0; l < out.layers.size(); ++l) {
      const auto& r = report.layers[l];
      SCOPED_TRACE("move cost " + std::to_string(move_cost) + ", layer " + std::to_string(l));
      const LoadStats s = load_stats(gpu_loads(out, new_loads, int(l)));
      EXPECT_NEAR(s.max, r.chosen.max, 1e-9 * s.max);
      EXPECT_EQ(r.moved, count_moved(current.layers[l], out.layers[l], kTopo));
      EXPECT_NEAR(r.cost, s.max + move_cost * r.moved, 1e-9 * r.cost);
      // The chosen cost is never above the two fixed alternatives.
      EXPECT_LE(r.cost, r.current.max * (1 + 1e-12));
      EXPECT_LE(r.cost, (r.fresh.max + move_cost * r.fresh_moved) * (1 + 1e-12));
      if (move_cost == 0) {
        EXPECT_LE(s.max, r.fresh.max * (1 + 1e-12));
      }
      total += r.moved;
    }
    EXPECT_EQ(total, report.total_moved);
  }
}

TEST(EplbMigration, MismatchedPlacementIsRejected) {
  const Placement current = plan_eplb(synth::skewed_loads(2, 64, 1, 1.0), kTopo);
  EXPECT_THROW(rebalance_with_migration(current, synth::skewed_loads(3, 64, 1, 1.0), {}), shapejit::Error);
  EXPECT_THROW(rebalance_with_migration(current, synth::skewed_loads(2, 64, 1, 1.0), {-1.0}), shapejit::Error);
}
