#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/op_registry.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, default_target_device(), "m.json");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST(Manifest, OpsAndSpecsBecomeDeduplicatedSpecs) {
  const Manifest m = parse_manifest(R"({"target": {"arch": "sm_90a", "num_sms": 132}, "kernels": [
      {"op": "quant_fp8", "k": 7168},
      {"op": "quant_fp8", "k": 7168, "group_size": 128},
      {"spec": "quant/per_token_group_quant<512,128,256>@sm_90a"}]})",
                                    default_target_device(), "m.json");
  ASSERT_EQ(m.specs.size(), 2u);
  EXPECT_EQ(m.specs[0].canonical(), "quant/per_token_group_quant<7168,128,256>@sm_90a");
  EXPECT_EQ(m.specs[1].canonical(), "quant/per_token_group_quant<512,128,256>@sm_90a");
}

TEST(Manifest, TargetArchReachesTheSpecs) {
  const Manifest m = parse_manifest(R"({"target": {"arch": "sm_100a"}, "kernels": [{"op": "quant_fp8", "k": 512}]})",
                                    default_target_device(), "m.json");
  EXPECT_EQ(m.specs.at(0).arch, "sm_100a");
}

TEST(Manifest, BadEntriesNameTheirIndexAndProblem) {
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": 3})").find("must be an array"), std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": [{"op": "quant_fp8", "k": 512}, {"op": "nope"}]})").find("kernels[1]: unknown op 'nope'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": [{"op": "quant_fp8", "k": 100}]})").find("kernels[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": [{"op": "quant_fp8"}]})").find("missing field 'k'"), std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": [{"k": 5}]})").find("needs \"op\""), std::string::npos);
  EXPECT_NE(error_of(R"({"kernels": [{"spec": "quant/zzz<1>@sm_90a"}]})").find("unknown kernel 'zzz'"), std::string::npos);
}

TEST(OpRegistry, DeepSeekV3SetHasTheQuantWidthsAndNoDuplicates) {
  const auto specs = deepseek_v3_specs(default_target_device());
  std::set<std::string> seen;
  int quant = 0;
  for (const auto& s : specs) {
    EXPECT_TRUE(seen.insert(s.canonical()).second) << s.canonical();
    quant += s.family == "quant";
  }
  EXPECT_EQ(quant, 7);
}

TEST(Manifest, NumbersAreCheckedAtTheirFullWidth) {
  // 4294967424 = 2^32 + 128 once wrapped to K = 128.
  EXPECT_NE(error_of(R"([{"op": "gemm_fp8", "m": 64, "n": 7168, "k": 4294967424}])")
                .find("field 'k' = 4294967424 is outside [1, 2147483647]"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"op": "quant_fp8", "k": 18446744073709551615}])").find("field 'k'"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"op": "quant_fp8", "k": -7168}])").find("is outside"), std::string::npos);
  EXPECT_NE(error_of(R"([{"op": "quant_fp8", "k": 7168.5}])").find("must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"target": {"num_sms": 4294967428}, "kernels": []})").find("num_sms"),
            std::string::npos);
}

TEST(Manifest, UnknownFieldsAreErrorsNotDefaults) {
  EXPECT_NE(error_of(R"([{"op": "quant_fp8", "k": 7168, "kk": 5}])")
                .find("kernels[0]: op quant_fp8: unknown field 'kk' (fields: k, group_size)"),
            std::string::npos);
  EXPECT_NE(error_of(R"([{"op": "mla_decode", "hq": 64}])").find("unknown field 'hq'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"target": {"arch": "sm_90a", "sms": 8}, "kernels": []})")
                .find("unknown field 'sms'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"kernel": []})").find("unknown field 'kernel'"), std::string::npos);
  EXPECT_NE(error_of(R"([{"spec": "quant/per_token_group_quant<512,128,256>@sm_90a", "k": 1}])")
                .find("no other fields"),
            std::string::npos);
}

TEST(Manifest, RawSpecsAreCheckedLikeOps) {
  EXPECT_NE(error_of(R"([{"spec": "quant/per_token_group_quant<7168,128,0>@sm_90a"}])")
                .find("THREADS = 0"),
            std::string::npos);
  const Manifest m = parse_manifest(
      R"([{"spec": "quant/per_token_group_quant<K=7168,GROUP_SIZE=128,THREADS=256>@sm_90a"}])",
      default_target_device(), "m.json");
  EXPECT_EQ(m.specs.at(0).canonical(), "quant/per_token_group_quant<7168,128,256>@sm_90a");
}

TEST(Manifest, NothingInAManifestReachesNvrtcAsAnOption) {
  EXPECT_NE(error_of(R"([{"spec": "quant/per_token_group_quant<512,128,256>@sm_90a;--time=/tmp/x"}])")
                .find("is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"target": {"arch": "sm_90a;--pre-include=/etc/passwd"}, "kernels": [{"op": "quant_fp8", "k": 512}]})")
                .find("not a known target"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"target": {"arch": 90}, "kernels": []})").find("must be a string"),
            std::string::npos);
}
