// Search spaces come from the kernel definitions: every candidate satisfies every parameter
// and rule, refused combinations are counted by rule and never become candidates, the
// heuristic's pick is the first candidate, and the caps and dimensions do what they say.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;

namespace {

const char* kShape = R"({"op":"gemm_fp8","m":4096,"n":7168,"k":2048})";

GemmProblem problem_4096() {
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  return p;
}

}  // namespace

TEST(TuningSearchSpace, EveryCandidateSatisfiesTheDefinitionAndRefusalsAreCountedByRule) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace s = search_space("gemm_fp8", kShape, t, {.wide = true});
  const jit::KernelDefinition& def = gemm_definition(GemmKind::fp8_1d2d);
  // BLOCK_M × BLOCK_N × stages × (multicast 1, or 2 on A or on B) × swizzle, one SM count.
  const long long expected = static_cast<long long>(def.find("BLOCK_M")->values().size() *
                                                    def.find("BLOCK_N")->values().size() *
                                                    def.find("kNumStages")->values().size() * 3 *
                                                    def.find("kSwizzleDBytes")->values().size());
  EXPECT_EQ(s.combinations, expected);
  EXPECT_EQ(s.combinations, s.rejected + s.narrowed + s.capped + static_cast<long long>(s.candidates.size()));
  EXPECT_GT(s.rejected, 0);
  long long by_rule = 0;
  for (const auto& [rule, n] : s.rejected_by_rule) by_rule += n;
  EXPECT_EQ(by_rule, s.rejected);
  EXPECT_TRUE(s.rejected_by_rule.count(
      "the stages fit in shared memory (232448 bytes including the 1024-byte alignment slack)"));
  std::set<std::string> configs;
  for (const Candidate& c : s.candidates) {
    const jit::KernelDefinition& d = jit::find_kernel_definition(c.spec);   // throws on a broken rule
    EXPECT_TRUE(d.violation(d.values(c.spec).values()).empty()) << c.config_json;
    EXPECT_TRUE(configs.insert(c.config_json).second) << "duplicate " << c.config_json;
    EXPECT_EQ(c.definition_version, definition_version(def));
  }
}

TEST(TuningSearchSpace, TheHeuristicsPickComesFirstAsTheBaseline) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace s = search_space("gemm_fp8", kShape, t);
  ASSERT_FALSE(s.candidates.empty());
  EXPECT_TRUE(s.candidates.front().baseline);
  for (std::size_t i = 1; i < s.candidates.size(); ++i) EXPECT_FALSE(s.candidates[i].baseline);
  EXPECT_EQ(s.candidates.front().spec, gemm_kernel_spec(problem_4096(), heuristic_gemm_config(problem_4096(), t), t));
  EXPECT_EQ(s.shape_json, gemm_shape_json(problem_4096()));
}

TEST(TuningSearchSpace, DefaultPolicyKeepsTheDeepestPipelineAndWidestSwizzlePerTile) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace narrow = search_space("gemm_fp8", kShape, t);
  const SearchSpace wide = search_space("gemm_fp8", kShape, t, {.wide = true});
  EXPECT_EQ(narrow.rejected, wide.rejected) << "the rules do not depend on the policy";
  EXPECT_GT(narrow.narrowed, 0);
  EXPECT_LT(narrow.candidates.size(), wide.candidates.size());
  std::set<std::tuple<int, int, int, int>> tiles;
  for (const Candidate& c : narrow.candidates)
    EXPECT_TRUE(tiles.insert({tuning_test::config_value(c, "BLOCK_M"), tuning_test::config_value(c, "BLOCK_N"),
                              tuning_test::config_value(c, "kNumMulticast"),
                              tuning_test::config_value(c, "kMulticastOnA")})
                    .second)
        << "one candidate per tile and multicast choice: " << c.config_json;
}

TEST(TuningSearchSpace, MaxCandidatesKeepsTheBaselineAndSmCountsAreADimension) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace capped = search_space("gemm_fp8", kShape, t, {.max_candidates = 3});
  ASSERT_EQ(capped.candidates.size(), 3u);
  EXPECT_TRUE(capped.candidates.front().baseline);
  EXPECT_GT(capped.capped, 0);

  const SearchSpace sms = search_space("gemm_fp8", kShape, t, {.sm_counts = {132, 120}});
  std::set<int> seen;
  for (const Candidate& c : sms.candidates) seen.insert(tuning_test::config_value(c, "NUM_SMS"));
  EXPECT_EQ(seen, (std::set<int>{120, 132}));
  try {
    search_space("gemm_fp8", kShape, t, {.sm_counts = {200}});
    FAIL() << "200 SMs on a 132-SM target";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("SM count 200"), std::string::npos) << e.what();
  }
}

TEST(TuningSearchSpace, GroupedLayoutsFollowTheirOwnRules) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace s = search_space(
      "gemm_fp8_grouped_contiguous", R"({"op":"gemm_fp8_grouped_contiguous","m":8192,"n":4096,"k":7168,"groups":32})", t);
  ASSERT_FALSE(s.candidates.empty());
  for (const Candidate& c : s.candidates) {
    EXPECT_EQ(tuning_test::config_value(c, "BLOCK_M") % 64, 0);
    // The definition's rule: contiguous groups never share B across a pair of M blocks.
    EXPECT_FALSE(tuning_test::config_value(c, "kNumMulticast") == 2 && tuning_test::config_value(c, "kMulticastOnA") == 0)
        << c.config_json;
  }
  EXPECT_TRUE(s.rejected_by_rule.count("contiguous groups do not share B across a pair of M blocks"));
  const SearchSpace bf16 = search_space("gemm_bf16", R"({"op":"gemm_bf16","m":256,"n":4096,"k":1024,"out":"f32"})", t);
  ASSERT_FALSE(bf16.candidates.empty());
  EXPECT_NE(bf16.shape_json.find("\"out\":\"f32\""), std::string::npos) << bf16.shape_json;
}

TEST(TuningSearchSpace, BadShapesAndUnknownOpsAreErrorsNamingTheProblem) {
  const DeviceInfo t = tuning_test::target();
  try {
    search_space("gemm_fp8", R"({"op":"gemm_fp8","m":64,"n":7168,"kk":2048})", t);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("kk"), std::string::npos) << e.what();
  }
  try {
    search_space("quant_fp8", R"({"op":"quant_fp8","k":7168})", t);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no search space"), std::string::npos) << e.what();
  }
  EXPECT_EQ(deepseek_v3_shapes("gemm_fp8").size(), find_op_family("gemm_fp8").deepseek_v3_shapes().size());
  EXPECT_FALSE(deepseek_v3_shapes("gemm_fp8").empty());
}

TEST(TuningSearchSpace, MlaDecodeSearchesTheLoadPathAndTheSmsGivenToTheSplits) {
  const DeviceInfo t = tuning_test::target();
  const char* shape = R"({"op":"mla_decode","h_q":128,"s_q":1,"page_size":64,"kv_dtype":"bf16"})";
  const SearchSpace s = search_space("mla_decode", shape, t, {.sm_counts = {132, 66}});
  ASSERT_EQ(s.candidates.size(), 4u);
  EXPECT_TRUE(s.candidates.front().baseline);
  // The baseline is the split kernel a call picks: the proven cp.async path on every SM.
  MlaConfig c;
  EXPECT_EQ(s.candidates.front().spec, mla_kernel_specs(c, t)[1]);
  std::set<std::string> kernels;
  for (const Candidate& cand : s.candidates) kernels.insert(cand.spec.kernel);
  EXPECT_EQ(kernels, (std::set<std::string>{"mla_decode_split", "mla_decode_split_tma"}));
  // Every candidate is timed on one decode workload, which its config names; its bytes are
  // that workload's KV cache (GB/s).
  for (const Candidate& cand : s.candidates) {
    const nlohmann::json cfg = nlohmann::json::parse(cand.config_json);
    EXPECT_EQ(cfg.at("timed_batch"), 128);
    EXPECT_EQ(cfg.at("timed_seqlen"), 4096);
    EXPECT_EQ(cand.flops, 0.0);
    EXPECT_DOUBLE_EQ(cand.bytes, 128.0 * 4096 * 1152);
  }
  try {
    search_space("mla_decode", R"({"op":"mla_decode","h_q":128,"load_path":"tma"})", t);
    FAIL() << "the load path is the tuned dimension, not part of the shape";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("load_path"), std::string::npos) << e.what();
  }
}
