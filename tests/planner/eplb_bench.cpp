// EPLB timing and refinement figures at DeepSeek-V3 size (58 MoE layers × 256 experts, 288
// slots, 8 groups, 4 nodes × 8 GPUs) on seeded Zipf-skewed loads. Prints one table.
//   planner_eplb_bench [exponent ...]   (default exponents 0.0 0.6 1.0 1.4)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
  return 0;
}
