// EPLB timing and refinement figures at DeepSeek-V3 size (58 MoE layers × 256 experts, 288
// slots, 8 groups, 4 nodes × 8 GPUs) on seeded Zipf-skewed loads. Prints one table.
//   planner_eplb_bench [exponent ...]   (default exponents 0.0 0.6 1.0 1.4)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "shapejit/planner/eplb.hpp"
#include "synthetic_loads.hpp"

using namespace shapejit::planner;

namespace {
template <class F>
double median_ms(F&& f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<double> exponents{0.0, 0.6, 1.0, 1.4};
  if (argc > 1) {
    exponents.clear();
    for (int i = 1; i < argc; ++i) exponents.push_back(std::atof(argv[i]));
  }
  const EplbTopology topo{288, 8, 4, 32};
  std::printf("DeepSeek-V3 size: 58 layers x 256 experts, 288 slots, 8 groups, 4 nodes x 8 GPUs; seed 2024\n");
  std::printf("%-8s %12s %12s %14s %14s %10s %10s %9s\n", "zipf_s", "greedy_ms", "refine_ms", "greedy_max/mean",
              "refined_max/mean", "best_gain", "mean_gain", "moves");
  for (double s : exponents) {
    const ExpertLoads loads = synth::skewed_loads(58, 256, 2024, s);
    const double greedy_ms = median_ms([&] { plan_eplb(loads, topo); }, 21);
    const double refine_ms = median_ms([&] { plan_eplb(loads, topo, {EplbPolicy::automatic, true}); }, 5);
    EplbReport r;
    plan_eplb(loads, topo, {EplbPolicy::automatic, true}, &r);
    double g = 0, f = 0, best = 0, gain_sum = 0;
    int moves = 0;
    for (size_t l = 0; l < r.final.size(); ++l) {
      g += r.greedy[l].balance();
      f += r.final[l].balance();
      const double gain = 1 - r.final[l].max / r.greedy[l].max;  // fraction of the max load removed
      best = std::max(best, gain);
      gain_sum += gain;
      moves += r.refine_moves[l];
    }
    const double n = double(r.final.size());
    std::printf("%-8.2f %12.3f %12.3f %14.4f %14.4f %9.2f%% %9.2f%% %9d\n", s, greedy_ms, refine_ms, g / n, f / n,
                100 * best, 100 * gain_sum / n, moves);
  }
  std::printf("max/mean: heaviest GPU over the average GPU, averaged over layers (1.0 is perfect).\n"
              "gain: how much of the greedy maximum the refinement removed, best layer and mean over layers.\n");

  // Migration: the placement refined for zipf 1.0 loads, then the loads drift (each expert's load
  // times a factor in [0.5, 1.5], seed 7); how balance trades against expert copies.
  const ExpertLoads before = synth::skewed_loads(58, 256, 2024, 1.0);
  ExpertLoads after = before;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> drift(0.5, 1.5);
  for (double& v : after.values) v = std::round(v * drift(rng));
  const Placement current = plan_eplb(before, topo, {EplbPolicy::automatic, true});
  std::printf("\nmigration after drift (zipf 1.0, loads x U[0.5, 1.5]); mean GPU load per layer %.0f\n",
              [&] {
                double total = 0;
                for (double v : after.values) total += v;
                return total / 58 / 32;
              }());
  std::printf("%-10s %10s %12s %12s %12s %8s %10s\n", "move_cost", "ms", "max/mean", "current", "fresh", "copies",
              "fresh_copies");
  for (double cost : {0.0, 10.0, 100.0, 1000.0, 1e9}) {
    MigrationReport r;
    const auto a = std::chrono::steady_clock::now();
    rebalance_with_migration(current, after, {cost}, &r);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
    double chosen = 0, cur = 0, fresh = 0;
    int fresh_moved = 0;
    for (const auto& l : r.layers) {
      chosen += l.chosen.balance();
      cur += l.current.balance();
      fresh += l.fresh.balance();
      fresh_moved += l.fresh_moved;
    }
    const double n = double(r.layers.size());
    std::printf("%-10g %10.1f %12.4f %12.4f %12.4f %8d %10d\n", cost, ms, chosen / n, cur / n, fresh / n, r.total_moved,
                fresh_moved);
  }
  return 0;
}
