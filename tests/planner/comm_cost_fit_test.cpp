// Measured dispatch/combine points → the profile's COMM model, and the profile update.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "shapejit/error.hpp"
#include "shapejit/planner/comm_cost_fit.hpp"
#include "shapejit/planner/cost_profile.hpp"

using namespace shapejit::planner;

namespace {

TEST(CommCostFit, RecoversFixedCostAndBandwidth) {
  // 20 us fixed, 7 KB per token at 50 GB/s on 24 SMs: us = 20 + 7168 t / 50e3.
  std::vector<std::pair<double, double>> pts;
  for (double t : {512.0, 1024.0, 2048.0, 4096.0}) pts.push_back({t, 20 + 7168 * t / 50e3});
  const CommCost c = fit_comm_cost(pts, 7168, 24);
  EXPECT_NEAR(c.fixed_us, 20, 1e-6);
  EXPECT_NEAR(c.max_gbps, 50, 1e-6);
  EXPECT_NEAR(c.bandwidth_gbps(24), 50, 1e-6);
  EXPECT_NEAR(c.bandwidth_gbps(12), 25, 1e-6);   // proportional below the measured SMs
  EXPECT_NEAR(c.bandwidth_gbps(48), 50, 1e-6);   // no extrapolation above
  EXPECT_NEAR(c.time_us(1000, 24), 20 + 7168 * 1000 / 50e3, 1e-6);
}

TEST(CommCostFit, RejectsPointsThatCannotBeFitted) {
  EXPECT_THROW(fit_comm_cost({{100, 5}}, 7168, 24), shapejit::Error);
  EXPECT_THROW(fit_comm_cost({{100, 5}, {100, 6}}, 7168, 24), shapejit::Error);
  EXPECT_THROW(fit_comm_cost({{100, 9}, {200, 5}}, 7168, 24), shapejit::Error);
  EXPECT_THROW(fit_comm_cost({{100, -1}, {200, 5}}, 7168, 24), shapejit::Error);
}

TEST(CommCostFit, ProfileUpdateReplacesOnlyThatOpAndSaysSo) {
  std::ifstream in(std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/h800_deepseek_v3_ep32_prefill_ep128_decode.json");
  std::stringstream s;
  s << in.rdbuf();
  const auto base = nlohmann::json::parse(s.str());
  const CommCost c = fit_comm_cost({{1024, 100}, {2048, 180}}, 7168, 20);
  const auto out = nlohmann::json::parse(with_measured_comm(s.str(), "prefill", "dispatch", c, "bench ep, 8 ranks"));
  EXPECT_EQ(out["phases"]["prefill"]["ops"]["combine"], base["phases"]["prefill"]["ops"]["combine"]);
  EXPECT_DOUBLE_EQ(out["phases"]["prefill"]["ops"]["dispatch"]["fixed_us"].get<double>(), 20.0);
  EXPECT_NE(out["source"].get<std::string>().find("prefill.dispatch measured: bench ep, 8 ranks"), std::string::npos);
  const CostProfile p = parse_cost_profile(out.dump());
  EXPECT_NEAR(p.phases[0].dispatch.time_us(1024, 20), 100, 1e-6);
  EXPECT_THROW(with_measured_comm(s.str(), "training", "dispatch", c, ""), shapejit::Error);
  EXPECT_THROW(with_measured_comm(s.str(), "prefill", "attention", c, ""), shapejit::Error);
  EXPECT_THROW(with_measured_comm("{", "prefill", "dispatch", c, ""), shapejit::Error);
}

}  // namespace
