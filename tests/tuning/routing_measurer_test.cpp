// The measuring step's routing: each candidate goes to the family that lists its op, an op no
// family lists is unsupported with its name, families are made on first use. Injected family
// measurers (FormulaMeasurer): these tests check the routing and session logic, not speed.
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;
using tuning_test::FormulaMeasurer;

namespace {

Candidate candidate(const std::string& op) {
  Candidate c;
  c.op = op;
  return c;
}

// Two families whose measurers the test keeps pointers to (the router owns them).
struct TwoFamilies {
  FormulaMeasurer* fp8 = nullptr;
  FormulaMeasurer* bf16 = nullptr;
  int made = 0;
  std::string bf16_unavailable;
  std::vector<MeasurerFamily> families() {
    return {
        {"fp8", {"gemm_fp8"},
         [this] {
           ++made;
           auto m = std::make_unique<FormulaMeasurer>();
           fp8 = m.get();
           return std::unique_ptr<Measurer>(std::move(m));
         }},
        {"bf16", {"gemm_bf16"},
         [this] {
           ++made;
           auto m = std::make_unique<FormulaMeasurer>();
           m->why_unavailable = bf16_unavailable;
           bf16 = m.get();
           return std::unique_ptr<Measurer>(std::move(m));
         }},
    };
  }
};

}  // namespace

TEST(MeasurerRouting, EachCandidateGoesToTheFamilyOfItsOp) {
  TwoFamilies f;
  std::unique_ptr<Measurer> m = make_routing_measurer(f.families());
  EXPECT_EQ(f.made, 0) << "families are made on first use";
  EXPECT_EQ(m->check(candidate("gemm_fp8")), "");
  ASSERT_NE(f.fp8, nullptr);
  EXPECT_EQ(f.bf16, nullptr) << "a family no candidate needed is never made";
  EXPECT_EQ(f.fp8->checks, 1);
  EXPECT_EQ(m->check(candidate("gemm_bf16")), "");
  ASSERT_NE(f.bf16, nullptr);
  EXPECT_EQ(f.bf16->checks, 1);
  EXPECT_EQ(f.fp8->checks, 1);
  EXPECT_EQ(f.made, 2) << "each family is made once";
}

TEST(MeasurerRouting, AnOpNoFamilyListsIsUnsupportedByName) {
  TwoFamilies f;
  std::unique_ptr<Measurer> m = make_routing_measurer(f.families());
  const std::string why = m->unsupported(candidate("mla_decode"));
  EXPECT_NE(why.find("mla_decode"), std::string::npos) << why;
  EXPECT_NE(why.find("gemm_bf16, gemm_fp8"), std::string::npos) << "names what is measured: " << why;
  EXPECT_EQ(m->unsupported(candidate("gemm_fp8")), "");
  EXPECT_THROW(m->check(candidate("mla_decode")), Error);
  const Candidate a = candidate("gemm_fp8"), b = candidate("gemm_bf16");
  EXPECT_THROW(m->measure_interleaved({&a, &b}, 3), Error) << "an interleaved group is of one family";
}

TEST(MeasurerRouting, AFamilyThatCannotMeasureHereSaysWhyForItsOpsOnly) {
  TwoFamilies f;
  f.bf16_unavailable = "needs another GPU";
  std::unique_ptr<Measurer> m = make_routing_measurer(f.families());
  EXPECT_EQ(m->unavailable(), "") << "one family can measure";
  EXPECT_EQ(m->unsupported(candidate("gemm_bf16")), "needs another GPU");
  EXPECT_EQ(m->unsupported(candidate("gemm_fp8")), "");

  std::unique_ptr<Measurer> none = make_routing_measurer(f.families(), [] { return std::string("no GPU: test"); });
  EXPECT_EQ(none->unavailable(), "no GPU: test") << "the common reason comes first";
  std::unique_ptr<Measurer> empty = make_routing_measurer({});
  EXPECT_NE(empty->unavailable(), "");
}

TEST(MeasurerRouting, ASessionDecidesTheShapesOfMeasuredOpsAndRecordsWhyForTheRest) {
  const auto dir = tuning_test::fresh_dir("routing");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  TwoFamilies f;
  std::vector<MeasurerFamily> families = f.families();
  families.pop_back();   // no BF16 family
  std::unique_ptr<Measurer> m = make_routing_measurer(std::move(families));
  SessionRequest req;
  req.manifest_json =
      R"({"kernels":[{"op":"gemm_bf16","m":64,"n":2112,"k":7168},{"op":"gemm_fp8","m":64,"n":2112,"k":7168}]})";
  req.space.max_candidates = 3;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = m.get();
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.winners, 1);
  EXPECT_EQ(r.unmeasured, 3);
  for (const auto& rec : session_records(store, r.id))
    if (rec.spec_family == "gemm_bf16") {
      EXPECT_EQ(rec.status, cache::kTuningUnmeasured);
      EXPECT_NE(rec.reason.find("no measuring step for gemm_bf16"), std::string::npos) << rec.reason;
    }
}

TEST(MeasurerRouting, TheGpuMeasuringStepNamesAnOpItDoesNotMeasure) {
  const auto dir = tuning_test::fresh_dir("routing-gpu");
  RuntimeOptions ro;
  ro.cache_path = dir / "k.db";
  Runtime rt(ro);
  std::unique_ptr<Measurer> m = make_gpu_measurer(rt);
  const std::string why = m->unsupported(candidate("no_such_op"));
  EXPECT_NE(why.find("no_such_op"), std::string::npos) << why;
  EXPECT_NE(why.find("gemm_fp8"), std::string::npos) << why;
}
