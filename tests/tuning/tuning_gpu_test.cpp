// On a GPU: a two-shape FP8 GEMM session end to end with the real measuring step (reference
// check, timing, finalists against the baseline), and the runtime then running the winners.
// Skips with the reason where there is no GPU.
#include <memory>

#include <gtest/gtest.h>

#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "support/gpu_test.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;

// Each test: a fresh database, a runtime on it with records off (what the session times is the
// candidate it forces, never an earlier winner) and the real measuring step.
class TuningGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    SHAPEJIT_REQUIRE_GPU();
    const auto dir = tuning_test::fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_.cache_path = dir / "k.db";
    options_.use_tuning_records = false;
    runtime_ = std::make_unique<Runtime>(options_);
    store_ = std::make_unique<cache::KernelStore>(dir / "k.db", tuning_test::quiet());
    measurer_ = make_gpu_measurer(*runtime_);
    ASSERT_EQ(measurer_->unavailable(), "");
  }
  RuntimeOptions options_;
  std::unique_ptr<Runtime> runtime_;
  std::unique_ptr<cache::KernelStore> store_;
  std::unique_ptr<Measurer> measurer_;
};

TEST_F(TuningGpu, TwoShapeSessionEndToEnd) {
  Runtime& rt = *runtime_;
  cache::KernelStore& store = *store_;
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = tuning_test::two_shapes();
  req.space.max_candidates = 4;
  req.runs = 10;
  SessionOptions o;
  o.runtime = &rt;
  o.measurer = measurer_.get();
  const SessionResult r = run_session(store, req, rt.target(current_device()), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.rejected, 0) << "every candidate of the definitions computes the right result";
  EXPECT_EQ(r.winners, 2);
  for (const auto& rec : session_records(store, r.id))
    if (rec.status == cache::kTuningMeasured) {
      EXPECT_GT(rec.time_us, 0.0);
    }
  const RecordSelection sel = select_records(store, rt.target(current_device()));
  EXPECT_EQ(sel.winners.size(), 2u);
}

// The grouped layouts: every candidate is checked per group against the float64 reference
// (contiguous with padding rows, masked with partly filled groups) and timed; one decision each.
TEST_F(TuningGpu, GroupedContiguousAndMaskedSessionsEndToEnd) {
  Runtime& rt = *runtime_;
  cache::KernelStore& store = *store_;
  SessionRequest req;
  req.manifest_json = R"({"kernels":[
    {"op":"gemm_fp8_grouped_contiguous","m":1024,"n":4096,"k":7168,"groups":4},
    {"op":"gemm_fp8_grouped_masked","m":256,"n":4096,"k":7168,"groups":4,"expected_m":64}]})";
  req.space.max_candidates = 3;
  req.runs = 10;
  SessionOptions o;
  o.runtime = &rt;
  o.measurer = measurer_.get();
  const SessionResult r = run_session(store, req, rt.target(current_device()), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.rejected, 0) << "every candidate of the definitions computes the right result";
  EXPECT_EQ(r.unmeasured, 0);
  EXPECT_EQ(r.winners, 2);
}

// MLA decode: a one-shape session (both load paths on all SMs and on half of them) checks every
// candidate against the CPU reference and times scheduler + decode on the fixed workload; the
// winner is recorded in GB/s and a runtime on the database plans it for calls of that shape.
TEST_F(TuningGpu, MlaDecodeSessionEndToEnd) {
  Runtime& rt = *runtime_;
  cache::KernelStore& store = *store_;
  const DeviceInfo target = rt.target(current_device());
  SessionRequest req;
  req.manifest_json = R"({"kernels":[{"op":"mla_decode","h_q":16,"s_q":1,"page_size":64,"kv_dtype":"bf16"}]})";
  req.space.sm_counts = {target.num_sms, target.num_sms / 2};
  req.runs = 10;
  SessionOptions o;
  o.runtime = &rt;
  o.measurer = measurer_.get();
  const SessionResult r = run_session(store, req, target, o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.rejected, 0) << "both load paths on both SM counts match the reference";
  EXPECT_EQ(r.unmeasured, 0);
  ASSERT_EQ(r.winners, 1);
  const cache::TuningRecord* winner = nullptr;
  const auto records = session_records(store, r.id);
  for (const auto& rec : records) {
    if (rec.status == cache::kTuningMeasured) {
      EXPECT_EQ(rec.throughput_unit, "GB/s");
      EXPECT_GT(rec.throughput, 0.0);
    }
    if (rec.status == cache::kTuningWinner) winner = &rec;
  }
  ASSERT_NE(winner, nullptr);
  RuntimeOptions on = options_;
  on.use_tuning_records = true;
  Runtime tuned(on);
  const MlaLaunchPlan plan = mla_launch_plan(MlaConfig{16, 1, 64, MlaKvDtype::bf16}, target, tuned.tuned_configs());
  const nlohmann::json cfg = nlohmann::json::parse(winner->config_json);
  EXPECT_EQ(plan.tuned, !winner->baseline);
  EXPECT_EQ(plan.num_sms, cfg.at("NUM_SMS").get<int>());
  EXPECT_EQ(plan.config.load_path == MlaLoadPath::tma, cfg.at("load_path") == "tma");
}

// The MoE launch shapes: every candidate checked against the host references (dispatch and the
// tiled shapes bit-exact) and timed in GB/s; the winners then change what the front end of a
// runtime with records on launches.
TEST_F(TuningGpu, MoeLaunchShapeSessionsEndToEnd) {
  Runtime& rt = *runtime_;
  cache::KernelStore& store = *store_;
  SessionRequest req;
  req.manifest_json = R"({"kernels":[
    {"op":"moe_dispatch","hidden":7168,"top_k":8,"num_tokens":128},
    {"op":"moe_swiglu","intermediate":2048,"num_rows":8192},
    {"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":4096}]})";
  req.runs = 10;
  SessionOptions o;
  o.runtime = &rt;
  o.measurer = measurer_.get();
  const DeviceInfo target = rt.target(current_device());
  const SessionResult r = run_session(store, req, target, o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.rejected, 0) << "every tiled shape reproduces the proven kernel's output";
  EXPECT_EQ(r.unmeasured, 0);
  EXPECT_EQ(r.winners, 3);
  for (const auto& rec : session_records(store, r.id))
    if (rec.status == cache::kTuningMeasured) {
      EXPECT_GT(rec.time_us, 0.0);
      EXPECT_EQ(rec.throughput_unit, "GB/s");
    }
  RuntimeOptions on = options_;
  on.use_tuning_records = true;
  Runtime tuned(on);
  const auto winners = select_records(store, target).winners;
  for (const auto& [key, w] : winners) {
    if (w.spec_family != "moe_combine") continue;
    const MoeLaunch want = w.baseline ? MoeLaunch{} : *moe_launch_of(w.config_json);
    EXPECT_EQ(moe_tuned_launch(MoeStep::combine, MoeConfig{}, 4096, target, tuned.tuned_configs()), want);
  }
}

// A candidate made wrong on purpose (its kernel drops the last K block, and with less work it
// would likely time fastest) is injected next to real ones: the real reference check rejects
// it with its error, it never wins, and the baseline is measured.
TEST_F(TuningGpu, ACandidateMadeWrongOnPurposeIsRejectedAndNeverWins) {
  Runtime& rt = *runtime_;
  cache::KernelStore& store = *store_;
  const DeviceInfo target = rt.target(current_device());
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = R"({"kernels":[{"op":"gemm_fp8","m":4096,"n":7168,"k":2048}]})";
  req.space.max_candidates = 3;
  req.runs = 10;
  SessionOptions o;
  o.runtime = &rt;
  o.measurer = measurer_.get();
  o.edit_space = [&](SearchSpace& s) {
    s.candidates.push_back(gemm_candidate_dropping_last_k_block(s.candidates[1], target));
  };
  const SessionResult r = run_session(store, req, target, o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.rejected, 1) << "only the wrong candidate";
  EXPECT_EQ(r.winners, 1);
  bool baseline_measured = false, wrong_seen = false;
  for (const auto& rec : session_records(store, r.id)) {
    if (rec.status == cache::kTuningMeasured && rec.baseline) baseline_measured = rec.time_us > 0;
    if (rec.config_json.find("test_drop_last_k_block") == std::string::npos) continue;
    wrong_seen = true;
    EXPECT_NE(rec.status, cache::kTuningWinner);
    EXPECT_EQ(rec.status, cache::kTuningRejected);
    EXPECT_NE(rec.reason.find("wrong result: diff"), std::string::npos) << rec.reason;
  }
  EXPECT_TRUE(wrong_seen);
  EXPECT_TRUE(baseline_measured);
}
