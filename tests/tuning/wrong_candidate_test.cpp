// A GEMM candidate made wrong on purpose (its kernel drops the last K block) is added to a
// session's space through SessionOptions::edit_space. Here, on the CPU: its kernel is really
// the short one and compiles, no search space ever holds it, and a session whose injected
// check fails it records it rejected with its error and never lets it win (session logic, not
// speed). tuning_gpu_test.cpp runs the same session with the real check on a GPU.
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;
using tuning_test::FormulaMeasurer;

namespace {

constexpr const char* kShape = R"({"op":"gemm_fp8","m":64,"n":2112,"k":7168})";

bool drops_k_block(const Candidate& c) { return c.config_json.find("\"test_drop_last_k_block\":true") != std::string::npos; }

// The candidate the formula makes fastest (widest BLOCK_N without multicast), made wrong.
void add_wrong_copy_of_fastest(SearchSpace& s) {
  const Candidate* fastest = nullptr;
  for (const Candidate& c : s.candidates)
    if (!c.baseline && tuning_test::config_value(c, "kNumMulticast") == 1 &&
        (!fastest || tuning_test::config_value(c, "BLOCK_N") > tuning_test::config_value(*fastest, "BLOCK_N")))
      fastest = &c;
  ASSERT_NE(fastest, nullptr);
  s.candidates.push_back(gemm_candidate_dropping_last_k_block(*fastest, tuning_test::target()));
}

}  // namespace

TEST(WrongGemmCandidate, ItsKernelIsOneKBlockShortAndCompiles) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace s = search_space("gemm_fp8", kShape, t, SpaceOptions{.max_candidates = 3});
  ASSERT_GE(s.candidates.size(), 2u);
  const Candidate& right = s.candidates[1];
  const Candidate wrong = gemm_candidate_dropping_last_k_block(right, t);
  EXPECT_TRUE(drops_k_block(wrong));
  EXPECT_FALSE(wrong.baseline);
  EXPECT_NE(jit::describe_spec(right.spec).find("SHAPE_K=7168"), std::string::npos) << jit::describe_spec(right.spec);
  EXPECT_NE(jit::describe_spec(wrong.spec).find("SHAPE_K=7040"), std::string::npos) << jit::describe_spec(wrong.spec);
  // Everything else of the config is the same.
  nlohmann::json a = nlohmann::json::parse(right.config_json), b = nlohmann::json::parse(wrong.config_json);
  b.erase("test_drop_last_k_block");
  EXPECT_EQ(a, b);
  // BF16 steps K by 64.
  const SearchSpace bf = search_space("gemm_bf16", R"({"op":"gemm_bf16","m":64,"n":2112,"k":7168})", t,
                                      SpaceOptions{.max_candidates = 2});
  EXPECT_NE(jit::describe_spec(gemm_candidate_dropping_last_k_block(bf.candidates[1], t).spec).find("SHAPE_K=7104"),
            std::string::npos);
  // K of one block has nothing to drop; other ops have no such variant.
  const SearchSpace one = search_space("gemm_fp8", R"({"op":"gemm_fp8","m":64,"n":2112,"k":128})", t,
                                       SpaceOptions{.max_candidates = 2});
  EXPECT_THROW(gemm_candidate_dropping_last_k_block(one.candidates[0], t), Error);
  Candidate mla = right;
  mla.op = "mla_decode";
  EXPECT_THROW(gemm_candidate_dropping_last_k_block(mla, t), Error);

  // The real compiler builds it, so on a GPU it reaches the reference check.
  const auto dir = tuning_test::fresh_dir("wrong-compile");
  RuntimeOptions ro;
  ro.cache_path = dir / "kernels.db";
  ro.compile_in_process = true;
  ro.use_tuning_records = false;
  Runtime rt(ro);
  const jit::CompileResult r = *rt.cubin(wrong.spec);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_GT(r.registers, 0) << "ptxas reported on it";
  EXPECT_NE(r.lowered_name.find("7040"), std::string::npos) << r.lowered_name;
  EXPECT_EQ(prune_reason(r, wrong, t), "");
}

TEST(WrongGemmCandidate, NoSearchSpaceHoldsIt) {
  const DeviceInfo t = tuning_test::target();
  for (const std::string op : {"gemm_fp8", "gemm_bf16"}) {
    const SearchSpace s = search_space(op, R"({"op":")" + op + R"(","m":4096,"n":7168,"k":2048})", t,
                                       SpaceOptions{.wide = true});
    ASSERT_GT(s.candidates.size(), 10u);
    for (const Candidate& c : s.candidates) ASSERT_FALSE(drops_k_block(c)) << c.config_json;
  }
}

TEST(WrongGemmCandidate, ASessionRejectsItWithItsErrorAndItNeverWins) {
  const auto dir = tuning_test::fresh_dir("wrong-session");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  m.wrong = drops_k_block;
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = tuning_test::two_shapes();
  req.space.max_candidates = 5;
  req.runs = 10;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  o.edit_space = add_wrong_copy_of_fastest;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.candidates, 2 * 6) << "the wrong copy is a candidate of each shape";
  EXPECT_EQ(r.rejected, 2);
  EXPECT_EQ(r.winners, 2);
  int rejected = 0, baselines = 0;
  for (const auto& rec : session_records(store, r.id)) {
    if (rec.status == cache::kTuningMeasured && rec.baseline) ++baselines;
    if (rec.config_json.find("test_drop_last_k_block") == std::string::npos) continue;
    EXPECT_NE(rec.status, cache::kTuningWinner) << "a rejected candidate never wins";
    EXPECT_EQ(rec.status, cache::kTuningRejected);
    EXPECT_NE(rec.reason.find("wrong result: diff 0.5"), std::string::npos) << rec.reason;
    ++rejected;
  }
  EXPECT_EQ(rejected, 2);
  EXPECT_EQ(baselines, 2) << "the baseline is measured";
  for (const auto& [key, rec] : select_records(store, tuning_test::target()).winners)
    EXPECT_EQ(rec.config_json.find("test_drop_last_k_block"), std::string::npos);
}

TEST(WrongGemmCandidate, EditSpaceMustKeepTheBaselineFirst) {
  const auto dir = tuning_test::fresh_dir("wrong-edit");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = tuning_test::two_shapes();
  req.space.max_candidates = 3;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  o.edit_space = [](SearchSpace& s) { s.candidates.erase(s.candidates.begin()); };
  EXPECT_THROW(run_session(store, req, tuning_test::target(), o), Error);
  // Pruning others is fine: the removed candidates are never compiled or recorded.
  o.edit_space = [](SearchSpace& s) { s.candidates.resize(2); };
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.candidates, 4);
  EXPECT_EQ(session_records(store, r.id).size(), 4u + 2u) << "two candidates and a winner per shape";
}
