// Sessions with an injected measuring step (FormulaMeasurer) and, except where a test says it
// compiles for real, an injected compile step. These tests check the session's logic — what is
// recorded, pruned, rejected, reused, resumed and chosen — not the speed of any kernel.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;
using tuning_test::FormulaMeasurer;

namespace {

SessionRequest request(int max_candidates = 5) {
  SessionRequest r;
  r.ops = {"gemm_fp8"};
  r.manifest_json = tuning_test::two_shapes();
  r.space.max_candidates = max_candidates;
  r.runs = 10;
  return r;
}

GemmProblem gemm_problem_for_test() {
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  return p;
}

std::map<std::string, int> by_status(const std::vector<cache::TuningRecord>& records) {
  std::map<std::string, int> n;
  for (const auto& r : records) ++n[r.status];
  return n;
}

}  // namespace

TEST(TuningSession, EveryCandidateOutcomeIsRecordedWithItsReason) {
  const auto dir = tuning_test::fresh_dir("outcomes");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  // BLOCK_N 160 would be the fastest by the formula: made wrong on purpose, it must not win.
  m.wrong = [](const Candidate& c) { return tuning_test::config_value(c, "BLOCK_N") == 160; };
  SessionOptions o;
  o.compile = tuning_test::fake_compile(
      [](const jit::KernelSpec& s) { return jit::describe_spec(s).find("kNumMulticast=2") != std::string::npos; });
  o.measurer = &m;
  const SessionResult r = run_session(store, request(), tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.shapes, 2);
  EXPECT_EQ(r.candidates, 10);
  const auto records = session_records(store, r.id);
  const auto n = by_status(records);
  EXPECT_EQ(n.at(cache::kTuningWinner), 2) << "one decision per shape";
  EXPECT_EQ(n.count(cache::kTuningUnmeasured), 0u);
  EXPECT_EQ(static_cast<long long>(records.size()) - n.at(cache::kTuningWinner), r.candidates)
      << "every candidate has exactly one record";
  for (const auto& rec : records) {
    EXPECT_EQ(rec.session, r.id);
    EXPECT_EQ(rec.device, "Test H100");
    EXPECT_EQ(rec.num_sms, 132);
    EXPECT_EQ(rec.driver_version, 13000);
    EXPECT_FALSE(rec.nvrtc_version.empty());
    EXPECT_FALSE(rec.definition_version.empty());
    if (rec.status == cache::kTuningPruned) {
      EXPECT_NE(rec.reason.find("spills"), std::string::npos) << rec.reason;
    }
    if (rec.status == cache::kTuningRejected) {
      EXPECT_NE(rec.reason.find("made wrong on purpose"), std::string::npos) << rec.reason;
      EXPECT_NE(rec.config_json.find("\"BLOCK_N\":160"), std::string::npos);
    }
    if (rec.status == cache::kTuningMeasured) {
      EXPECT_GT(rec.time_us, 0);
      EXPECT_DOUBLE_EQ(rec.spread_us, 0.5);
      EXPECT_EQ(rec.throughput_unit, "TFLOPS");
      EXPECT_GT(rec.throughput, 0);
    }
    if (rec.status == cache::kTuningWinner) {
      EXPECT_EQ(rec.config_json.find("\"BLOCK_N\":160"), std::string::npos) << "a rejected candidate never wins";
      EXPECT_DOUBLE_EQ(rec.baseline_us, 100.0);
    }
  }
  EXPECT_GT(n.count(cache::kTuningPruned) ? n.at(cache::kTuningPruned) : 0, 0) << "the multicast pairs spill";
  EXPECT_GT(n.count(cache::kTuningRejected) ? n.at(cache::kTuningRejected) : 0, 0);
  const auto sessions = list_sessions(store);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].state, "complete");
  EXPECT_EQ(request_from_json(sessions[0].request_json).manifest_json, tuning_test::two_shapes());
}

TEST(TuningSession, AWinnerMustBeatTheBaselineByMoreThanTheSpread) {
  std::string why;
  // 3 % faster with a 1 % spread: wins.
  EXPECT_EQ(select_winner({100, 1, 10}, {{97, 1, 10}, {99, 1, 10}}, &why), 0) << why;
  // 3 % faster but 5 us of spread on the winner: noise, the heuristic stays.
  EXPECT_EQ(select_winner({100, 1, 10}, {{97, 5, 10}}, &why), -1);
  EXPECT_NE(why.find("heuristic's pick stays"), std::string::npos) << why;
  // The baseline's own spread counts too.
  EXPECT_EQ(select_winner({100, 4, 10}, {{97, 0.1, 10}}, &why), -1);
  // Below the minimum gain (1 %), even with no spread.
  EXPECT_EQ(select_winner({100, 0, 10}, {{99.5, 0, 10}}, &why), -1);
  EXPECT_EQ(select_winner({100, 0, 10}, {}, &why), -1);
}

TEST(TuningSession, NoisyGainsLeaveTheHeuristicsPick) {
  const auto dir = tuning_test::fresh_dir("noise");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  m.gain_per_16 = 0.01;   // at most 0.1 us faster than the baseline
  m.spread = 3.0;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, request(), tuning_test::target(), o);
  for (const auto& rec : session_records(store, r.id))
    if (rec.status == cache::kTuningWinner) {
      EXPECT_TRUE(rec.baseline) << rec.reason;
    }
  EXPECT_FALSE(tuned_gemm_config(store.tuning_records(cache::TuningQuery{.status = cache::kTuningWinner}),
                                 gemm_problem_for_test(), tuning_test::target()));
}

TEST(TuningSession, ANewSessionReusesEveryCandidateDecidedOnTheSameContext) {
  const auto dir = tuning_test::fresh_dir("reuse");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer first;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &first;
  const SessionResult a = run_session(store, request(3), tuning_test::target(), o);
  ASSERT_EQ(a.state, "complete");

  // A wider space: the three candidates per shape measured before are reused, not re-measured.
  FormulaMeasurer second;
  o.measurer = &second;
  const SessionResult b = run_session(store, request(6), tuning_test::target(), o);
  EXPECT_NE(a.id, b.id);
  EXPECT_EQ(b.reused, a.candidates);
  for (const auto& [config, calls] : first.measured_configs) {
    // Only the finalists' interleaved re-measurement touches an old candidate again.
    EXPECT_LE(second.measured_configs[config], 1) << config;
  }
  for (const auto& rec : session_records(store, b.id))
    if (rec.reason.rfind("reused from session", 0) == 0) {
      EXPECT_EQ(rec.session, b.id);
    }

  // Another driver is another context: nothing is reused.
  DeviceInfo other = tuning_test::target();
  other.driver_version = 12080;
  FormulaMeasurer third;
  o.measurer = &third;
  const SessionResult c = run_session(store, request(3), other, o);
  EXPECT_EQ(c.reused, 0);
  EXPECT_EQ(c.measured, c.candidates);
}

TEST(TuningSession, ResumingAFinishedSessionRedoesNothing) {
  const auto dir = tuning_test::fresh_dir("resume-done");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult a = run_session(store, request(), tuning_test::target(), o);
  const auto before = session_records(store, a.id).size();
  int compiles = 0;
  FormulaMeasurer again;
  o.measurer = &again;
  o.compile = [&](const jit::KernelSpec& s) {
    ++compiles;
    return tuning_test::fake_compile()(s);
  };
  o.resume = a.id;
  const SessionResult b = run_session(store, SessionRequest{}, tuning_test::target(), o);
  EXPECT_EQ(b.id, a.id);
  EXPECT_EQ(b.already_recorded, a.candidates);
  EXPECT_EQ(compiles, 0);
  EXPECT_EQ(again.measures.load(), 0);
  EXPECT_EQ(again.checks.load(), 0);
  EXPECT_EQ(session_records(store, a.id).size(), before);
  try {
    o.resume = "no-such-session";
    run_session(store, SessionRequest{}, tuning_test::target(), o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
  }
}

TEST(TuningSession, WithoutAMeasurerTheCpuPhaseIsRecordedAndSaysNothingWasMeasured) {
  const auto dir = tuning_test::fresh_dir("cpu-only");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  m.why_unavailable = "no GPU: test";
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, request(), tuning_test::target(), o);
  EXPECT_EQ(r.state, "cpu_only");
  EXPECT_NE(r.unmeasured_reason.find("no GPU: test"), std::string::npos);
  EXPECT_EQ(r.unmeasured, r.candidates);
  EXPECT_EQ(m.measures.load(), 0);
  for (const auto& rec : session_records(store, r.id)) {
    EXPECT_EQ(rec.status, cache::kTuningUnmeasured);
    EXPECT_EQ(rec.time_us, 0.0);
    EXPECT_NE(rec.reason.find("no GPU: test"), std::string::npos);
  }
  EXPECT_TRUE(select_records(store, tuning_test::target()).winners.empty());
}

// Real NVRTC: a small GEMM space compiles for sm_90a, and a candidate whose kernel cannot
// compile (templates/selftest's static_assert_fails substituted for one spec) is pruned with
// the compiler's reason.
TEST(TuningSession, RealCompilesPruneWhatTheCompilerRefusesWithItsReason) {
  const auto dir = tuning_test::fresh_dir("nvrtc");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  RuntimeOptions ro;
  ro.cache_path = dir / "kernels.db";
  ro.compile_in_process = true;
  ro.use_tuning_records = false;
  Runtime rt(ro);
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = R"({"kernels":[{"op":"gemm_fp8","m":4096,"n":7168,"k":2048}]})";
  req.space.max_candidates = 3;
  const std::string broken = [&] {
    return search_space("gemm_fp8", R"({"op":"gemm_fp8","m":4096,"n":7168,"k":2048})", tuning_test::target(),
                        req.space)
        .candidates.back()
        .spec.canonical();
  }();
  SessionOptions o;
  o.compile = [&](const jit::KernelSpec& s) {
    if (s.canonical() == broken) return *rt.cubin(jit::resolve_spec("selftest/static_assert_fails<1>@sm_90a"));
    return *rt.cubin(s);
  };
  o.jobs = 2;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.state, "cpu_only");
  EXPECT_EQ(r.compiled, 2);
  EXPECT_EQ(r.pruned, 1);
  for (const auto& rec : session_records(store, r.id)) {
    if (rec.spec == broken) {
      EXPECT_EQ(rec.status, cache::kTuningPruned);
      EXPECT_NE(rec.reason.find("compile failure"), std::string::npos) << rec.reason;
    } else {
      EXPECT_EQ(rec.status, cache::kTuningUnmeasured) << rec.reason;
    }
  }
}

TEST(TuningSession, CompileReportsArePrunedForSpillsAndResources) {
  Candidate c;
  c.spec = jit::resolve_spec("gemm/sm90_fp8_gemm_1d2d<0,7168,2048,128,128,5,1,false,128,132,0,1>@sm_90a");
  c.config_json = R"({"BLOCK_M":128})";
  DeviceInfo t = tuning_test::target();
  jit::CompileResult ok;
  ok.registers = 168;
  EXPECT_EQ(prune_reason(ok, c, t), "");
  jit::CompileResult spills = ok;
  spills.spill_store_bytes = 8;
  EXPECT_NE(prune_reason(spills, c, t).find("spills"), std::string::npos);
  jit::CompileResult regs = ok;
  regs.registers = 200;   // × 384 threads > 64K
  EXPECT_NE(prune_reason(regs, c, t).find("registers"), std::string::npos);
  jit::CompileResult smem = ok;
  smem.static_smem_bytes = t.max_smem_per_block_optin + 1;
  EXPECT_NE(prune_reason(smem, c, t).find("shared memory"), std::string::npos);
}

TEST(TuningSession, CandidatesOfAnOpTheMeasurerCannotTimeAreRecordedAsSuch) {
  const auto dir = tuning_test::fresh_dir("unsupported");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  struct FpOnly : FormulaMeasurer {
    std::string unsupported(const Candidate& c) override { return c.op == "gemm_fp8" ? "" : "not timed here"; }
  } m;
  SessionRequest req;
  req.manifest_json =
      R"({"kernels":[{"op":"gemm_fp8_grouped_masked","m":256,"n":4096,"k":7168,"groups":8},{"op":"gemm_fp8","m":64,"n":2112,"k":7168}]})";
  req.space.max_candidates = 3;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.unmeasured, 3);
  EXPECT_EQ(r.winners, 1) << "only the shape that could be timed is decided";
  for (const auto& rec : session_records(store, r.id)) {
    if (rec.spec_family == "gemm_fp8_grouped_masked") {
      EXPECT_EQ(rec.status, cache::kTuningUnmeasured);
      EXPECT_NE(rec.reason.find("not timed here"), std::string::npos) << rec.reason;
    }
  }
}

TEST(TuningSession, ACandidateThatKillsItsCheckIsRejectedAndNeverRunAgainByAResume) {
  const auto dir = tuning_test::fresh_dir("fatal-check");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  // The second candidate checked takes the (simulated) GPU context down: the check throws.
  struct Fatal : FormulaMeasurer {
    int seen = 0;
    std::string check(const Candidate& c) override {
      if (++seen == 2) throw Error(Errc::driver, "CUDA_ERROR_ILLEGAL_ADDRESS (simulated)");
      return FormulaMeasurer::check(c);
    }
  } fatal;
  SessionOptions o;
  o.id = "fatal";
  o.compile = tuning_test::fake_compile();
  o.measurer = &fatal;
  EXPECT_THROW(run_session(store, request(), tuning_test::target(), o), Error);
  const auto rejected = store.tuning_records(cache::TuningQuery{.session = "fatal", .status = cache::kTuningRejected});
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find("did not finish its reference check"), std::string::npos) << rejected[0].reason;

  FormulaMeasurer m;
  o.id.clear();
  o.resume = "fatal";
  o.measurer = &m;
  const SessionResult r = run_session(store, SessionRequest{}, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(m.measured_configs.count(rejected[0].shape_json + rejected[0].config_json), 0u)
      << "never run again";
  for (const auto& rec : session_records(store, "fatal")) {
    if (rec.status == cache::kTuningWinner) {
      EXPECT_NE(rec.config_json, rejected[0].config_json);
    }
  }
}

// A reference library's time (cuBLASLt on a GPU; here an injected figure, so this checks the
// session's logic, not speed) is recorded once per decided shape as a "reference" row. Faster
// than every candidate, it still never wins, is never selected, and a new session measures it
// again instead of reusing it.
TEST(TuningSession, AReferenceRowIsRecordedPerShapeAndNeverWinsOrIsSelected) {
  const auto dir = tuning_test::fresh_dir("reference");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  FormulaMeasurer m;
  m.reference_us = 10.0;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, request(), tuning_test::target(), o);
  EXPECT_EQ(r.winners, 2);
  EXPECT_EQ(r.references, 2);
  const auto records = session_records(store, r.id);
  const auto n = by_status(records);
  ASSERT_EQ(n.count(cache::kTuningReference), 1u);
  EXPECT_EQ(n.at(cache::kTuningReference), 2);
  std::set<std::string> shapes;
  for (const auto& rec : records) {
    if (rec.status == cache::kTuningReference) {
      shapes.insert(rec.shape_json);
      EXPECT_EQ(rec.config_json, R"({"reference":"fake cuBLASLt"})");
      EXPECT_DOUBLE_EQ(rec.time_us, 10.0);
      EXPECT_FALSE(rec.baseline);
      EXPECT_EQ(rec.throughput_unit, "TFLOPS");
    }
    if (rec.status == cache::kTuningWinner) {
      EXPECT_EQ(rec.config_json.find("reference"), std::string::npos) << "a reference never wins";
      EXPECT_GT(rec.time_us, 10.0);
    }
  }
  EXPECT_EQ(shapes.size(), 2u) << "one reference row per shape";
  const RecordSelection sel = select_records(store, tuning_test::target());
  EXPECT_EQ(sel.winners.size(), 2u);
  for (const auto& [shape, rec] : sel.winners) EXPECT_EQ(rec.status, cache::kTuningWinner);

  const SessionResult again = run_session(store, request(), tuning_test::target(), o);
  EXPECT_EQ(again.references, 2) << "a reference is measured in each session's own run";
  EXPECT_EQ(m.references, 4);
}
