// MoE launch-shape search spaces (moe_dispatch, moe_swiglu, moe_combine): candidates come from
// the tiled kernels' definitions with the proven launch first as the baseline, shapes the rules
// refuse are counted by rule and never compiled, and a session compiles the candidates with
// NVRTC and prunes with the compiler's reason. The session test injects the measuring step: it
// checks the session's logic (what is recorded and chosen), not the speed of any kernel. A winner
// in a database changes the launch the front end picks; records that do not hold are ignored.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tuned_configs.hpp"
#include "shapejit/runtime/tuning_records.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;

namespace {

void expect_invalid(const std::function<void()>& call, const std::string& names) {
  try {
    call();
    FAIL() << "accepted; expected an error naming '" << names << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

MoeLaunch launch_of(const Candidate& c) {
  const auto j = nlohmann::json::parse(c.config_json);
  return {j.at("kernel") == "tiled", j.at("COLS_PER_THREAD").get<int>(), j.at("ROWS_PER_BLOCK").get<int>()};
}

}  // namespace

TEST(MoeTuningSpace, TheThreeStepsAreTunableOpsWithDeepSeekV3Shapes) {
  std::set<std::string> ops;
  for (const TunableOp& t : tunable_ops()) ops.insert(std::string(t.op));
  for (const char* op : {"moe_dispatch", "moe_swiglu", "moe_combine"}) EXPECT_TRUE(ops.count(op)) << op;
  // SwiGLU: the row buckets moe_layer calls launch (moe_num_rows of EP 8-64, both layouts),
  // e.g. 128 tokens on 32 local experts: 128 x 8 + 32 x 127 rounded to 128 = 5120 → 8192.
  std::vector<int> rows;
  for (const std::string& s : deepseek_v3_shapes("moe_swiglu")) {
    const auto j = nlohmann::json::parse(s);
    EXPECT_EQ(j["intermediate"], 2048);
    rows.push_back(j["num_rows"].get<int>());
  }
  EXPECT_EQ(rows, (std::vector<int>{1024, 2048, 4096, 8192, 65536, 262144}));
  const auto dispatch = deepseek_v3_shapes("moe_dispatch");
  ASSERT_EQ(dispatch.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(dispatch[2]),
            (nlohmann::json{{"op", "moe_dispatch"}, {"hidden", 7168}, {"top_k", 8}, {"num_tokens", 16384}}));
}

TEST(MoeTuningSpace, ProvenLaunchFirstThenEveryShapeTheRulesAllow) {
  const DeviceInfo t = tuning_test::target();
  const SearchSpace s =
      search_space("moe_dispatch", R"({"op":"moe_dispatch","hidden":7168,"top_k":8,"num_tokens":300})", t);
  // Rows at their bucket's upper end: 300 tokens share the records of 512.
  EXPECT_EQ(nlohmann::json::parse(s.shape_json)["num_tokens"], 512);
  EXPECT_EQ(s.combinations, 1 + 3 * 4);
  // 896 threads a row with 8 columns: 2+ rows exceed 1024; 448 with 16: 4+ rows; 224 with 32: 8.
  EXPECT_EQ(s.rejected, 3 + 2 + 1);
  ASSERT_EQ(s.rejected_by_rule.size(), 1u);
  EXPECT_NE(s.rejected_by_rule.begin()->first.find("at most 1024 threads a block"), std::string::npos);
  ASSERT_EQ(s.candidates.size(), 7u);
  EXPECT_TRUE(s.candidates[0].baseline);
  EXPECT_EQ(s.candidates[0].spec, moe_kernel_specs(MoeConfig{}, t)[2]) << "what a call launches";
  std::vector<MoeLaunch> launches;
  for (const Candidate& c : s.candidates) {
    SCOPED_TRACE(c.config_json);
    EXPECT_EQ(c.baseline, &c == &s.candidates[0]);
    const jit::KernelDefinition& def = jit::find_kernel_definition(c.spec);
    EXPECT_EQ(def.violation(def.values(c.spec).values()), "");
    EXPECT_EQ(c.spec, moe_step_spec(MoeStep::dispatch, MoeConfig{}, launch_of(c), t));
    EXPECT_EQ(c.definition_version, definition_version(def));
    // 512 tokens: 7168 x 2 B read, 8 x (7168 + 56 x 4) B written, 8 slots of 4 B each.
    EXPECT_DOUBLE_EQ(c.bytes, 512.0 * (7168 * 2 + 8 * 4 + 8 * (7168 + 56 * 4)));
    EXPECT_EQ(c.flops, 0.0);
    launches.push_back(launch_of(c));
  }
  EXPECT_EQ(launches, moe_step_launches(MoeStep::dispatch, MoeConfig{}));
}

TEST(MoeTuningSpace, WidthsSetWhichShapesAreValidAndTheCapKeepsTheBaseline) {
  const DeviceInfo t = tuning_test::target();
  // I = 512 with 32 columns a thread is half a warp a row: refused by its own rule.
  const SearchSpace narrow =
      search_space("moe_swiglu", R"({"op":"moe_swiglu","intermediate":512,"num_rows":4096})", t);
  EXPECT_EQ(narrow.rejected_by_rule.size(), 1u);
  EXPECT_NE(narrow.rejected_by_rule.begin()->first.find("whole warps"), std::string::npos);
  EXPECT_EQ(narrow.rejected, 4);
  EXPECT_EQ(narrow.candidates.size(), 1u + 8u);
  // The SM count does not change a launch shape: asking for more SM counts adds nothing.
  const char* combine = R"({"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":128})";
  EXPECT_EQ(search_space("moe_combine", combine, t, {.sm_counts = {132, 66}}).candidates.size(),
            search_space("moe_combine", combine, t).candidates.size());
  const SearchSpace capped = search_space("moe_combine", combine, t, {.max_candidates = 2});
  ASSERT_EQ(capped.candidates.size(), 2u);
  EXPECT_TRUE(capped.candidates[0].baseline);
  EXPECT_EQ(capped.capped, 5);
}

TEST(MoeTuningSpace, BadShapesAreErrorsNamingTheField) {
  const DeviceInfo t = tuning_test::target();
  expect_invalid([&] { search_space("moe_dispatch", R"({"op":"moe_dispatch","hidden":7000,"top_k":8,"num_tokens":64})", t); },
                 "hidden");
  expect_invalid([&] { search_space("moe_combine", R"({"op":"moe_combine","hidden":7168,"top_k":8})", t); },
                 "num_tokens");
  expect_invalid([&] { search_space("moe_swiglu", R"({"op":"moe_swiglu","intermediate":2048,"num_rows":64,"layout":"masked"})", t); },
                 "layout");
  expect_invalid([&] { search_space("moe_swiglu", R"({"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":64})", t); },
                 "the shape is for moe_combine");
  // The manifest reader takes the same entries (precompile names the same ops).
  const OpFamily& f = find_op_family("moe_combine");
  const auto specs = f.specs_for(nlohmann::json::parse(R"({"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":64})"), t);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].canonical(), "moe/moe_combine<7168,8>@sm_90a");
}

// Real NVRTC compiles of a whole space; one candidate's compile is replaced by a kernel that
// cannot compile (templates/selftest) and is pruned with the compiler's reason. Times come from a
// formula of the launch shape (FormulaMeasurer's idea): this checks the session, not speed.
TEST(MoeTuningSession, CompilesTheSpaceForRealPrunesWithReasonsAndPicksAWinner) {
  const auto dir = tuning_test::fresh_dir("moe");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  RuntimeOptions ro;
  ro.cache_path = dir / "kernels.db";
  ro.compile_in_process = true;
  ro.use_tuning_records = false;
  Runtime rt(ro);
  struct ShapeFormula : tuning_test::FormulaMeasurer {
    // The baseline 100 us; each tiled shape faster by 3 us per extra row a block, 8-column
    // threads 10 us slower.
    Measurement measure(const Candidate& c, int runs) override {
      ++measures;
      const MoeLaunch l = launch_of(c);
      const double t = !l.tiled ? 100.0 : 100.0 - 3.0 * (l.rows_per_block - 1) + (l.cols_per_thread == 8 ? 10.0 : 0.0);
      return {t, 0.5, runs};
    }
  } m;
  m.wrong = [](const Candidate& c) { return launch_of(c) == MoeLaunch{true, 16, 2}; };   // wrong on purpose
  SessionRequest req;
  req.ops = {"moe_combine"};
  req.manifest_json = R"({"kernels":[{"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":4096}]})";
  req.runs = 5;
  const SearchSpace space = search_space("moe_combine", R"({"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":4096})",
                                         tuning_test::target());
  ASSERT_EQ(space.candidates.size(), 7u);
  const std::string broken = space.candidates[1].spec.canonical();   // tiled 8x1
  SessionOptions o;
  o.compile = [&](const jit::KernelSpec& s) {
    if (s.canonical() == broken) return *rt.cubin(jit::resolve_spec("selftest/static_assert_fails<1>@sm_90a"));
    return *rt.cubin(s);
  };
  o.measurer = &m;
  o.jobs = 2;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_EQ(r.shapes, 1);
  EXPECT_EQ(r.candidates, 7);
  EXPECT_EQ(r.rejected_by_rules, 6);
  EXPECT_EQ(r.compiled, 6);
  EXPECT_EQ(r.pruned, 1);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.winners, 1);
  std::map<std::string, int> statuses;
  for (const auto& rec : session_records(store, r.id)) {
    SCOPED_TRACE(rec.config_json);
    ++statuses[rec.status];
    EXPECT_EQ(rec.spec_family, "moe_combine");
    if (rec.spec == broken && rec.status != cache::kTuningWinner) {
      EXPECT_EQ(rec.status, cache::kTuningPruned);
      EXPECT_NE(rec.reason.find("compile failure"), std::string::npos) << rec.reason;
    }
    if (rec.status == cache::kTuningRejected) {
      EXPECT_NE(rec.reason.find("made wrong on purpose"), std::string::npos) << rec.reason;
    }
    if (rec.status == cache::kTuningMeasured || rec.status == cache::kTuningWinner) {
      // Memory bound: GB/s of the bytes one call moves (4096 tokens x 8 rows of 7168 BF16 read,
      // their slots and weights, 4096 BF16 rows written).
      EXPECT_EQ(rec.throughput_unit, "GB/s");
      const double bytes = 4096.0 * (8 * 7168 * 2 + 8 * 8 + 7168 * 2);
      EXPECT_NEAR(rec.throughput, bytes / (rec.time_us * 1e3), 1e-9 * rec.throughput);
    }
    if (rec.status == cache::kTuningWinner) {
      // The fastest correct shape by the formula: 32 columns, 4 rows a block (91 us).
      EXPECT_EQ(nlohmann::json::parse(rec.config_json),
                (nlohmann::json{{"kernel", "tiled"}, {"COLS_PER_THREAD", 32}, {"ROWS_PER_BLOCK", 4}}));
      EXPECT_EQ(rec.spec, "moe/moe_combine_tiled<7168,8,32,4>@sm_90a");
      EXPECT_DOUBLE_EQ(rec.baseline_us, 100.0);
    }
  }
  EXPECT_EQ(statuses[cache::kTuningPruned], 1);
  EXPECT_EQ(statuses[cache::kTuningRejected], 1);
  EXPECT_EQ(statuses[cache::kTuningWinner], 1);
  EXPECT_EQ(statuses[cache::kTuningMeasured], 5) << "the baseline and the four correct tiled shapes";
}

namespace {

// A combine winner for 4096-token buckets on the test target: 32 columns, 4 tokens a block.
cache::TuningRecord combine_winner(const DeviceInfo& t, MoeLaunch l = {true, 32, 4}) {
  cache::TuningRecord r;
  r.key = "moe-combine-winner";
  r.spec_family = "moe_combine";
  r.shape_json = moe_step_shape_json({MoeStep::combine, MoeConfig{}, 4096});
  r.config_json = nlohmann::json{{"kernel", l.tiled ? "tiled" : "proven"},
                                 {"COLS_PER_THREAD", l.cols_per_thread},
                                 {"ROWS_PER_BLOCK", l.rows_per_block}}
                      .dump();
  r.status = cache::kTuningWinner;
  r.time_us = 90;
  r.baseline_us = 100;
  stamp_context(r, context_of(t));
  r.definition_version = definition_version(jit::find_kernel_definition("moe", moe_step_kernel(MoeStep::combine, l.tiled)));
  return r;
}

}  // namespace

// A winner in a runtime's database changes the launch (and so the spec) of the calls in its row
// bucket; records off, another bucket, another context or a shape the definition refuses leave
// exactly the proven launch.
TEST(MoeTuningRecords, AWinnerChangesTheLaunchAndMismatchedRecordsAreIgnored) {
  const auto dir = tuning_test::fresh_dir("moe-records");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    store.put_tuning(combine_winner(t));
  }
  RuntimeOptions on;
  on.cache_path = dir / "k.db";
  RuntimeOptions off = on;
  off.use_tuning_records = false;
  Runtime rt(on), rt_off(off);
  ASSERT_NE(rt.tuned_configs(), nullptr);
  const MoeConfig c;
  const MoeLaunch tuned{true, 32, 4};
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 3000, t, rt.tuned_configs()), tuned) << "3000 tokens: bucket 4096";
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 3000, t, rt_off.tuned_configs()), MoeLaunch{}) << "records off";
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 5000, t, rt.tuned_configs()), MoeLaunch{}) << "bucket 8192: no record";
  EXPECT_EQ(moe_tuned_launch(MoeStep::dispatch, c, 3000, t, rt.tuned_configs()), MoeLaunch{}) << "another op";

  // The spec precompile and a call would load, through the op registry.
  const auto entry = nlohmann::json::parse(R"({"op":"moe_combine","hidden":7168,"top_k":8,"num_tokens":3000})");
  EXPECT_EQ(find_op_family("moe_combine").specs_for(entry, t, rt.tuned_configs()).at(0).canonical(),
            "moe/moe_combine_tiled<7168,8,32,4>@sm_90a");
  EXPECT_EQ(find_op_family("moe_combine").specs_for(entry, t, rt_off.tuned_configs()).at(0).canonical(),
            "moe/moe_combine<7168,8>@sm_90a");
  const auto layer = find_op_family("moe_layer").specs_for(
      {{"op", "moe_layer"}, {"hidden", 7168}, {"intermediate", 2048}, {"num_experts", 32}, {"top_k", 8}, {"num_tokens", 3000}},
      t, rt.tuned_configs());
  EXPECT_NE(std::find(layer.begin(), layer.end(), moe_step_spec(MoeStep::combine, c, tuned, t)), layer.end());

  // Records that do not hold are ignored: another device, another definition version, a shape
  // the definition refuses for this width, the baseline's own win.
  cache::TuningRecord other_device = combine_winner(t);
  other_device.device = "Another GPU";
  cache::TuningRecord old_definition = combine_winner(t);
  old_definition.definition_version = "0123456789abcdef";
  for (const cache::TuningRecord& r : {other_device, old_definition}) {
    const TunedConfigs only(std::vector<cache::TuningRecord>{r});
    EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 4096, t, &only), MoeLaunch{}) << r.device << " " << r.definition_version;
  }
  const TunedConfigs refused(std::vector<cache::TuningRecord>{combine_winner(t, {true, 8, 2})});   // 1792 threads
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 4096, t, &refused), MoeLaunch{});
  cache::TuningRecord baseline = combine_winner(t, MoeLaunch{});
  baseline.baseline = true;
  const TunedConfigs proven_won(std::vector<cache::TuningRecord>{baseline});
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 4096, t, &proven_won), MoeLaunch{});
  // The same record applies to a config of another hidden size only through its own shape.
  MoeConfig narrow;
  narrow.hidden = 4096;
  const TunedConfigs good(std::vector<cache::TuningRecord>{combine_winner(t)});
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, narrow, 4096, t, &good), MoeLaunch{});
  EXPECT_EQ(moe_tuned_launch(MoeStep::combine, c, 4096, t, &good), tuned);
}

// The GPU measuring step has a family for the three MoE ops: its answer for an op it does not
// measure lists them (the family itself needs a GPU; tuning_gpu_test.cpp runs it).
TEST(MoeTuningRecords, TheGpuMeasuringStepHasAFamilyForTheMoeOps) {
  const auto dir = tuning_test::fresh_dir("moe-routing");
  RuntimeOptions ro;
  ro.cache_path = dir / "k.db";
  Runtime rt(ro);
  std::unique_ptr<Measurer> m = make_gpu_measurer(rt);
  Candidate c;
  c.op = "no_such_op";
  const std::string why = m->unsupported(c);
  for (const char* op : {"moe_dispatch", "moe_swiglu", "moe_combine"}) EXPECT_NE(why.find(op), std::string::npos) << why;
}
