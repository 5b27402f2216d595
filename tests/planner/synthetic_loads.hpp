#pragma once
// Seeded expert loads for tests and the timing tool.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner::synth {

// Zipf-like skew: the k-th hottest expert gets scale / k^exponent (× a ±50% jitter), hot experts
// at random positions in each layer. exponent 0 gives uniform-with-jitter loads.
inline ExpertLoads skewed_loads(int layers, int experts, unsigned seed, double exponent, double scale = 1e4) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  ExpertLoads loads{layers, experts, {}};
  std::vector<int> perm(experts);
  for (int l = 0; l < layers; ++l) {
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> row(experts);
    for (int k = 0; k < experts; ++k) row[perm[k]] = std::round(scale * jitter(rng) / std::pow(k + 1.0, exponent));
    loads.values.insert(loads.values.end(), row.begin(), row.end());
  }
  return loads;
}

}  // namespace shapejit::planner::synth
