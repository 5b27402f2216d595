#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/cost_profile_writer.hpp"
#include "shapejit/planner/overlap.hpp"

using namespace shapejit;
using namespace shapejit::planner;

namespace {
nlohmann::json shipped_profile(const std::string& name = "h800_deepseek_v3_ep32_prefill_ep128_decode.json") {
  std::ifstream in(std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

// What `shapejit bench profile` measures on one GPU: both phases' expert compute and shared
// expert, decode attention; the rest carried with reasons.
std::vector<MeasuredOp> both_phases() {
  return {{"prefill", "moe_gemm", {{4096, 4100}, {8192, 8300}, {16384, 19400}, {32768, 39000}}, "grouped GEMMs"},
          {"prefill", "shared_expert", {{4096, 420}, {8192, 800}, {16384, 1600}, {32768, 3300}}, "two GEMMs + SwiGLU"},
          {"decode", "attention", {{32, 150}, {64, 210}, {128, 330}, {256, 600}}, "MLA decode core + 3 GEMMs"},
          {"decode", "moe_gemm", {{64, 640}, {32, 630}, {128, 660}, {256, 700}}, "grouped GEMMs"},
          {"decode", "shared_expert", {{32, 40}, {64, 42}, {128, 45}, {256, 60}}, "two GEMMs + SwiGLU"}};
}

std::vector<CarriedOp> reasons() {
  return {{"prefill", "attention", "no prefill attention kernel"},
          {"prefill", "dispatch", "no cross-GPU communication"},
          {"decode", "combine", "no cross-GPU communication"}};
}
// A phase with the per-op "source" strings the writer adds taken out again.
nlohmann::json without_sources(nlohmann::json phase) {
  for (auto& [name, op] : phase["ops"].items()) op.erase("source");
  return phase;
}

}  // namespace

TEST(CostProfileWriter, MeasuredPointsReplaceTheOpAndTheProfileParses) {
  const nlohmann::json base = shipped_profile();
  const double sensitivity = base["phases"]["prefill"]["ops"]["moe_gemm"].value("sm_sensitivity", 1.0);
  const auto out = measured_cost_profile(
      base, "base.json", "NVIDIA H100 80GB HBM3", 132,
      {{"prefill", "moe_gemm", {{4096, 4100.0}, {16384, 19400.0}, {128, 660.0}}, "32 local experts"}},
      "shapejit bench moe --profile p.json");
  EXPECT_EQ(out["device"]["name"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(out["phases"]["prefill"]["ops"]["moe_gemm"]["points"].size(), 3u);
  EXPECT_FALSE(out["phases"]["prefill"]["ops"]["moe_gemm"].contains("us_per_token"));
  EXPECT_EQ(out["phases"]["prefill"]["ops"]["moe_gemm"].value("sm_sensitivity", 1.0), sensitivity);
  // Untouched but for each op's source, which says where its figure comes from.
  EXPECT_EQ(without_sources(out["phases"]["decode"]), base["phases"]["decode"]);
  EXPECT_EQ(out["phases"]["decode"]["ops"]["attention"]["source"], "carried from base.json");
  EXPECT_EQ(out["phases"]["prefill"]["ops"]["moe_gemm"]["source"], "measured: 32 local experts");
  const std::string source = out["source"];
  EXPECT_EQ(source.rfind("MEASURED on NVIDIA H100 80GB HBM3", 0), 0u) << source;
  EXPECT_NE(source.find("phases.prefill.ops.moe_gemm (32 local experts)"), std::string::npos);
  EXPECT_NE(source.find("carried from base.json: "), std::string::npos);
  EXPECT_NE(source.find("phases.decode.ops.moe_gemm"), std::string::npos);   // carried, named
  // The planner reads it back, and the measured table drives the op's time.
  const CostProfile p = parse_cost_profile(out.dump(), "written");
  EXPECT_EQ(p.sms, 132);
}

TEST(CostProfileWriter, UnknownPhaseOrOpAndBadPointsAreNamed) {
  const nlohmann::json base = shipped_profile();
  auto message = [&](const MeasuredOp& m) {
    try {
      measured_cost_profile(base, "base.json", "gpu", 132, {m}, "cmd");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({"warmup", "moe_gemm", {{1, 1}}, ""}).find("no phases.warmup.ops.moe_gemm"), std::string::npos);
  EXPECT_NE(message({"prefill", "lm_head", {{1, 1}}, ""}).find("no phases.prefill.ops.lm_head"), std::string::npos);
  EXPECT_NE(message({"prefill", "moe_gemm", {}, ""}).find("no measured points"), std::string::npos);
  EXPECT_NE(message({"prefill", "moe_gemm", {{128, -1}}, ""}).find("invalid point"), std::string::npos);
  EXPECT_THROW(measured_cost_profile(nlohmann::json::array(), "x", "gpu", 1, {}, "cmd"), Error);
}

TEST(CostProfileWriter, OpsAcrossBothPhasesParseForTheChooserAndTheSourceSaysWhatIsCarried) {
  const nlohmann::json base = shipped_profile("h800_deepseek_v3_single_node_ep8.json");
  const auto out = measured_cost_profile(base, "base.json", "NVIDIA H100 80GB HBM3", 132, both_phases(),
                                         "shapejit bench profile --base base.json", reasons());
  // The chooser's parser reads it, the measured tables drive the ops, and it makes a choice.
  const CostProfile p = parse_cost_profile(out.dump(), "written");
  ASSERT_EQ(p.phases.size(), 2u);
  EXPECT_EQ(p.sms, 132);
  const PhaseProfile& prefill = p.phases[0];
  const PhaseProfile& decode = p.phases[1];
  ASSERT_EQ(prefill.name, "prefill");
  ASSERT_EQ(decode.name, "decode");
  EXPECT_DOUBLE_EQ(prefill.moe_gemm.time_us(8192, 132, 132), 8300);
  EXPECT_DOUBLE_EQ(prefill.shared_expert.time_us(16384, 132, 132), 1600);
  EXPECT_DOUBLE_EQ(decode.attention.time_us(96, 132, 132), 270);        // between 64 and 128
  EXPECT_DOUBLE_EQ(decode.moe_gemm.time_us(32, 132, 132), 630);         // points sorted
  EXPECT_EQ(out["phases"]["decode"]["ops"]["moe_gemm"]["points"][0][0], 32);
  // sm_sensitivity survives where the base had one; carried ops are the base's exactly.
  EXPECT_EQ(out["phases"]["decode"]["ops"]["attention"]["sm_sensitivity"], 0.3);
  EXPECT_FALSE(out["phases"]["prefill"]["ops"]["moe_gemm"].contains("sm_sensitivity"));
  nlohmann::json attention = out["phases"]["prefill"]["ops"]["attention"];
  EXPECT_EQ(attention["source"], "carried from base.json: no prefill attention kernel");
  attention.erase("source");
  EXPECT_EQ(attention, base["phases"]["prefill"]["ops"]["attention"]);
  for (const char* phase : {"prefill", "decode"})
    for (const char* op : {"dispatch", "combine"}) {
      nlohmann::json carried = out["phases"][phase]["ops"][op];
      EXPECT_EQ(carried["source"].get<std::string>().rfind("carried from base.json", 0), 0u) << phase << "." << op;
      carried.erase("source");
      EXPECT_EQ(carried, base["phases"][phase]["ops"][op]) << phase << "." << op;
    }
  EXPECT_EQ(out["phases"]["decode"]["other"], base["phases"]["decode"]["other"]);
  const auto choices = choose_overlap(p);
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_GT(choices[0].best.step_us, 0);

  const std::string source = out["source"];
  EXPECT_EQ(source.rfind("MEASURED on NVIDIA H100 80GB HBM3 by `shapejit bench profile --base base.json`: ", 0), 0u)
      << source;
  for (const char* measured : {"phases.prefill.ops.moe_gemm (grouped GEMMs)",
                               "phases.prefill.ops.shared_expert (two GEMMs + SwiGLU)",
                               "phases.decode.ops.attention (MLA decode core + 3 GEMMs)",
                               "phases.decode.ops.moe_gemm (grouped GEMMs)",
                               "phases.decode.ops.shared_expert (two GEMMs + SwiGLU)"})
    EXPECT_NE(source.find(measured), std::string::npos) << measured << "\n" << source;
  // Everything not measured is named as carried, with the reason where one was given.
  const auto carried_at = source.find("carried from base.json: ");
  ASSERT_NE(carried_at, std::string::npos) << source;
  const std::string carried = source.substr(carried_at);
  for (const char* c : {"phases.prefill.ops.attention (no prefill attention kernel)",
                        "phases.prefill.ops.dispatch (no cross-GPU communication)",
                        "phases.prefill.ops.combine", "phases.decode.ops.dispatch",
                        "phases.decode.ops.combine (no cross-GPU communication)"})
    EXPECT_NE(carried.find(c), std::string::npos) << c << "\n" << source;
  EXPECT_EQ(carried.find("moe_gemm"), std::string::npos) << source;
  EXPECT_EQ(carried.find("shared_expert"), std::string::npos) << source;
  EXPECT_EQ(carried.find("phases.decode.ops.attention"), std::string::npos) << source;
  EXPECT_NE(source.find("base.json's source reads: EXAMPLE built from public figures"), std::string::npos);
}

TEST(CostProfileWriter, UnknownRepeatedOrContradictoryOpsAcrossPhasesAreRejected) {
  const nlohmann::json base = shipped_profile("h800_deepseek_v3_single_node_ep8.json");
  auto message = [&](std::vector<MeasuredOp> measured, std::vector<CarriedOp> carried = {}) {
    try {
      measured_cost_profile(base, "base.json", "gpu", 132, measured, "cmd", carried);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto with = [](MeasuredOp extra) {
    auto v = both_phases();
    v.push_back(extra);
    return v;
  };
  EXPECT_EQ(message(both_phases(), reasons()), "accepted");
  EXPECT_NE(message(with({"decode", "lm_head", {{1, 1}}, ""})).find("base.json: the base profile has no phases.decode.ops.lm_head"),
            std::string::npos);
  EXPECT_NE(message(with({"verify", "moe_gemm", {{1, 1}}, ""})).find("no phases.verify.ops.moe_gemm"), std::string::npos);
  EXPECT_NE(message(with({"decode", "moe_gemm", {{1, 1}}, ""})).find("phases.decode.ops.moe_gemm: measured twice"),
            std::string::npos);
  EXPECT_NE(message({{"decode", "moe_gemm", {{64, 1}, {64, 2}}, ""}}).find("two points at token count 64"),
            std::string::npos);
  EXPECT_NE(message({{"decode", "moe_gemm", {{64, NAN}}, ""}}).find("invalid point"), std::string::npos);
  EXPECT_NE(message(both_phases(), {{"decode", "router", "no kernel"}}).find("no phases.decode.ops.router"),
            std::string::npos);
  EXPECT_NE(message(both_phases(), {{"decode", "attention", "no kernel"}}).find("phases.decode.ops.attention: both measured and carried"),
            std::string::npos);
}

TEST(CostProfileWriter, MeasuredCommunicationReplacesTheModelAndSaysSo) {
  const nlohmann::json base = shipped_profile("h800_deepseek_v3_single_node_ep8.json");
  CommCost c;
  c.fixed_us = 35;
  c.bytes_per_token = 40000;
  c.gbps_per_sm = 2.5;
  c.max_gbps = 60;
  const auto out = measured_cost_profile(base, "base.json", "gpu", 132, {}, "cmd", {},
                                         {{"prefill", "dispatch", c, "bench ep on 8 ranks, from ep.json"}});
  const auto& op = out["phases"]["prefill"]["ops"]["dispatch"];
  EXPECT_EQ(op["fixed_us"], 35);
  EXPECT_EQ(op["max_gbps"], 60);
  EXPECT_EQ(op["source"], "measured: bench ep on 8 ranks, from ep.json");
  EXPECT_EQ(out["phases"]["prefill"]["ops"]["combine"]["source"], "carried from base.json");
  const std::string source = out["source"];
  EXPECT_NE(source.find("phases.prefill.ops.dispatch (bench ep on 8 ranks, from ep.json)"), std::string::npos);
  EXPECT_EQ(source.find("phases.prefill.ops.dispatch;"), std::string::npos) << "listed as carried too: " << source;
  const CostProfile p = parse_cost_profile(out.dump(), "written");
  EXPECT_DOUBLE_EQ(p.phases[0].dispatch.fixed_us, 35);
  // Only dispatch and combine take the model, once, with a bandwidth.
  CommCost none = c;
  none.gbps_per_sm = 0;
  EXPECT_THROW(measured_cost_profile(base, "b", "gpu", 132, {}, "cmd", {}, {{"prefill", "moe_gemm", c, ""}}), Error);
  EXPECT_THROW(measured_cost_profile(base, "b", "gpu", 132, {}, "cmd", {}, {{"prefill", "dispatch", none, ""}}), Error);
  EXPECT_THROW(measured_cost_profile(base, "b", "gpu", 132, {}, "cmd", {},
                                     {{"prefill", "dispatch", c, ""}, {"prefill", "dispatch", c, ""}}),
               Error);
}
