#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/cost_profile_writer.hpp"

using namespace shapejit;
using namespace shapejit::planner;

namespace {
nlohmann::json shipped_profile() {
  std::ifstream in(std::string(SHAPEJIT_SOURCE_DIR) +
                   "/planner/profiles/h800_deepseek_v3_ep32_prefill_ep128_decode.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
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
  EXPECT_EQ(out["phases"]["decode"], base["phases"]["decode"]);   // untouched
  const std::string source = out["source"];
  EXPECT_EQ(source.rfind("MEASURED on NVIDIA H100 80GB HBM3", 0), 0u) << source;
  EXPECT_NE(source.find("phases.prefill.ops.moe_gemm (32 local experts)"), std::string::npos);
  EXPECT_NE(source.find("carried from base.json"), std::string::npos);
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
