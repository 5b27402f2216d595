// The overlap chooser on crafted profiles whose answer is obvious, and the profile reader.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/overlap.hpp"

using namespace shapejit::planner;

namespace {

// Linear costs in µs per token with no fixed part; SM counts do not change compute time.
PhaseProfile linear_phase(double attn, double expert, double comm_bytes, double gbps_per_sm, double gbps_free,
                          double max_gbps, int tokens = 1024, int layers = 1) {
  PhaseProfile p;
  p.name = "test";
  p.tokens = tokens;
  p.moe_layers = layers;
  p.comm_sms = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20};
  p.attention = {0, attn, {}, 0};
  p.moe_gemm = {0, expert, {}, 0};
  p.shared_expert = {0, 0, {}, 0};
  p.dispatch = {0, comm_bytes, gbps_per_sm, gbps_free, max_gbps};
  p.combine = p.dispatch;
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(OverlapChooser, TwoStreamTimelineOfOneLayerByHand) {
  // Per half of 512 tokens: A = 10 µs, E = 20 µs, D = K = 5 µs (1000 B/token at 102.4 GB/s).
  const PhaseProfile p = linear_phase(10.0 / 512, 20.0 / 512, 1000, 0, 102.4, 102.4);
  // A_a [0,10] A_b [10,20]; D_a [10,15] D_b [20,25]; E_a [20,40] E_b [40,60]; K_a [40,45] K_b [60,65].
  const OverlapCandidate two = evaluate_overlap(p, 132, true, 512, 0);
  EXPECT_NEAR(two.layer_us, 65.0, 1e-9);
  EXPECT_NEAR(two.compute_us, 60.0, 1e-9);
  EXPECT_NEAR(two.comm_us, 20.0, 1e-9);
  // One micro-batch: everything in a row, 20 + 40 + 10 + 10.
  const OverlapCandidate one = evaluate_overlap(p, 132, false, 0, 0);
  EXPECT_NEAR(one.layer_us, 80.0, 1e-9);
  EXPECT_NEAR(one.tokens_per_s, 1024 / 80e-6, 1e-3);
}

TEST(OverlapChooser, NegligibleCommunicationMeansNoSplitAndNoReservedSms) {
  PhaseProfile p = linear_phase(0.5, 1.0, 10, 0, 1000, 1000, 4096, 10);
  p.attention.fixed_us = 40;  // per-op launch and weight-load costs make two halves dearer
  p.moe_gemm.fixed_us = 40;
  const OverlapChoice c = choose_overlap(p, 132);
  EXPECT_FALSE(c.best.split);
  EXPECT_EQ(c.best.comm_sms, 0);
  EXPECT_NE(c.reasoning.back().find("tokens/s"), std::string::npos);
  bool says_why = false;
  for (const auto& line : c.reasoning) says_why |= line.find("Splitting does not pay") != std::string::npos;
  EXPECT_TRUE(says_why);
}

TEST(OverlapChooser, BalancedComputeAndCommunicationSplitWithJustEnoughSms) {
  // Compute 1.5 µs/token on any SM count; communication saturates at 10 SMs (5 GB/s each, 50 max):
  // 2 × 37500 B/token at 50 GB/s = 1.5 µs/token. Splitting hides one under the other; more than
  // 10 SMs buys nothing, fewer leave communication exposed.
  const PhaseProfile p = linear_phase(0.5, 1.0, 37500, 5, 0, 50, 4096, 20);
  const OverlapChoice c = choose_overlap(p, 132);
  EXPECT_TRUE(c.best.split);
  EXPECT_EQ(c.best.comm_sms, 10);
  EXPECT_LT(c.best.step_us, 0.6 * c.best_unsplit.step_us);
  // Most of the communication hides: each micro-batch's own chain A→D→E→K is as long as either
  // stream's total here, so perfect overlap is impossible, but the layer stays within 20% of
  // max(compute, comm) = 1.5 µs × 4096 and far below their sum.
  EXPECT_LT(c.best.layer_us, 1.2 * 1.5 * 4096);
}

TEST(OverlapChooser, SmHungryBothSidesPicksTheBalancePoint) {
  // Compute scales with the SMs it keeps, communication with the SMs it gets: the best count is
  // where the two per-layer times cross; check against an independent scan of max(compute, comm).
  PhaseProfile p = linear_phase(0.4, 0.8, 30000, 2.0, 0, 1000, 8192, 40);
  p.attention.sm_sensitivity = p.moe_gemm.sm_sensitivity = 1;
  const OverlapChoice c = choose_overlap(p, 132);
  ASSERT_TRUE(c.best.split);
  int want = -1;
  double want_t = 1e300;
  for (int s : p.comm_sms) {
    if (s == 0) continue;
    const double compute = 1.2 * 8192 * 132.0 / (132 - s);
    const double comm = 2 * 30000.0 * 8192 / (2.0 * s * 1e3);
    if (std::max(compute, comm) < want_t) want_t = std::max(compute, comm), want = s;
  }
  EXPECT_EQ(c.best.comm_sms, want);
}

TEST(OverlapChooser, SmFreeCommunicationSplitsWithZeroSms) {
  // Decode-like: communication progresses without SMs and is as long as compute.
  const PhaseProfile p = linear_phase(2.0, 1.0, 96000, 0, 64, 64, 128, 30);
  const OverlapChoice c = choose_overlap(p, 132);
  EXPECT_TRUE(c.best.split);
  EXPECT_EQ(c.best.comm_sms, 0);
}

TEST(CostProfile, ShippedExamplesParseSayTheyAreExamplesAndSplit) {
  for (const char* name : {"h800_deepseek_v3_ep32_prefill_ep128_decode.json", "h800_deepseek_v3_single_node_ep8.json"}) {
    const CostProfile prof = read_cost_profile(std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/" + name);
    EXPECT_NE(prof.source.find("EXAMPLE built from public figures"), std::string::npos) << name;
    ASSERT_EQ(prof.phases.size(), 2u);
    EXPECT_EQ(prof.phases[0].name, "prefill");
    EXPECT_EQ(prof.phases[1].name, "decode");
    for (const auto& choice : choose_overlap(prof)) {
      EXPECT_TRUE(choice.best.split) << name << " " << choice.phase;
      EXPECT_GT(choice.best.tokens_per_s, 0);
    }
  }
}

TEST(CostProfile, BadProfilesNameTheField) {
  const std::string good = slurp(std::string(SHAPEJIT_SOURCE_DIR) +
                                 "/planner/profiles/h800_deepseek_v3_ep32_prefill_ep128_decode.json");
  auto message = [](const std::string& text) {
    try {
      parse_cost_profile(text, "p");
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_NE(message(edit("\"sms\": 132", "\"sms\": 0")).find("device.sms"), std::string::npos);
  EXPECT_NE(message(edit("\"attention\":     {\"fixed_us\": 50", "\"attn\": {\"fixed_us\": 50"))
                .find("missing field \"attention\""),
            std::string::npos);
  EXPECT_NE(message(edit("\"us_per_token\": 0.55", "\"us_per_token\": -1")).find("phases.prefill.ops.moe_gemm.us_per_token"),
            std::string::npos);
  EXPECT_NE(message(edit("\"comm_sms\": [0, 8, 16, 24]", "\"comm_sms\": [0, 200]")).find("comm_sms"), std::string::npos);
  EXPECT_NE(message(edit("\"gbps_per_sm\": 2.4, \"gbps_without_sms\": 0, \"max_gbps\": 50},\n        \"combine\"",
                         "\"gbps_per_sm\": 0, \"gbps_without_sms\": 0, \"max_gbps\": 50},\n        \"combine\""))
                .find("never finishes"),
            std::string::npos);
  EXPECT_NE(message(edit("shapejit.cost_profile.v1", "other.v9")).find("unknown format"), std::string::npos);
  EXPECT_NE(message("{").find("not valid JSON"), std::string::npos);
  EXPECT_THROW(read_cost_profile("/nonexistent.json"), shapejit::Error);
}

TEST(CostProfile, PointTablesInterpolateAndScaleWithSms) {
  ComputeCost c;
  c.points = {{0, 10}, {100, 110}, {200, 150}};
  EXPECT_DOUBLE_EQ(c.time_us(50, 132, 132), 60);
  EXPECT_DOUBLE_EQ(c.time_us(150, 132, 132), 130);
  EXPECT_DOUBLE_EQ(c.time_us(300, 132, 132), 190);  // extended along the last segment
  EXPECT_DOUBLE_EQ(c.time_us(100, 66, 132), 220);   // half the SMs, sensitivity 1
  CommCost m{5, 1000, 2, 1, 10};
  EXPECT_DOUBLE_EQ(m.bandwidth_gbps(2), 5);
  EXPECT_DOUBLE_EQ(m.bandwidth_gbps(20), 10);
  EXPECT_DOUBLE_EQ(m.time_us(100, 20), 5 + 100 * 1000 / 10e3);
}
