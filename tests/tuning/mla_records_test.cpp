// MLA decode calls use the tuning winners of the runtime they are given. A winner written into a
// scratch database changes the kernels the call loads (checked through the spec functions,
// which need no GPU): the split kernel's load path, and the SM count the scheduler, split and
// combine kernels are all built for, so the metadata and the decode agree on the partitions.
// precompile's kernel lists follow the same winners. A winner for another device, driver or
// definition version is ignored and counted; records off, no winner, a baseline winner or a
// call that asks for the TMA path leave the call exactly as it is without records. The winners
// are written directly (from the real search space's candidates): this checks the use of
// records, not a measurement.
#include <gtest/gtest.h>

#include <algorithm>

#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/precompile.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;

namespace {

const MlaConfig kConfig{128, 1, 64, MlaKvDtype::bf16};   // DeepSeek-V3 decode, one GPU's heads
const nlohmann::json kEntry = {{"op", "mla_decode"}, {"h_q", 128}, {"s_q", 1}, {"page_size", 64}, {"kv_dtype", "bf16"}};
constexpr int kFewerSms = 66;

// The search space's candidate with this load path and SM count, as a winner record measured
// on `t`.
cache::TuningRecord winner(const DeviceInfo& t, const char* load_path, int sms, std::int64_t at = 1000) {
  SpaceOptions o;
  o.sm_counts = {t.num_sms, kFewerSms};
  const SearchSpace space = search_space("mla_decode", kEntry.dump(), t, o);
  for (const Candidate& c : space.candidates) {
    const nlohmann::json cfg = nlohmann::json::parse(c.config_json);
    if (cfg.at("load_path") != load_path || cfg.at("NUM_SMS") != sms) continue;
    cache::TuningRecord r;
    r.key = std::string(load_path) + std::to_string(sms) + "@" + std::to_string(at);
    r.spec_family = c.op;
    r.shape_json = c.shape_json;
    r.config_json = c.config_json;
    r.spec = c.spec.canonical();
    r.status = cache::kTuningWinner;
    r.baseline = c.baseline;
    r.measured_at = at;
    r.time_us = 90;
    r.baseline_us = 100;
    stamp_context(r, context_of(t));
    r.definition_version = c.definition_version;
    return r;
  }
  ADD_FAILURE() << "no candidate " << load_path << " on " << sms << " SMs";
  return {};
}

RuntimeOptions options_for(const std::filesystem::path& db) {
  RuntimeOptions o;
  o.cache_path = db;
  return o;
}

bool contains(const std::vector<jit::KernelSpec>& v, const jit::KernelSpec& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST(MlaTuning, AWinnerChangesTheKernelsTheCallAndPrecompileUse) {
  const auto dir = tuning_test::fresh_dir("mla-use");
  const DeviceInfo t = tuning_test::target();
  const cache::TuningRecord w = winner(t, "tma", kFewerSms);
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    store.put_tuning(w);
  }
  Runtime rt(options_for(dir / "k.db"));
  ASSERT_NE(rt.tuned_configs(), nullptr);
  const auto plain = mla_kernel_specs(kConfig, t);
  const auto tuned = mla_kernel_specs(kConfig, t, rt.tuned_configs());

  // The split kernel is the one the session measured; all three are built for 66 SMs: 33
  // partitions of the two 64-row tiles of 128 heads, where the plain call has 66.
  ASSERT_EQ(tuned.size(), 3u);
  EXPECT_EQ(tuned[1].canonical(), w.spec);
  EXPECT_EQ(tuned[1].kernel, "mla_decode_split_tma");
  EXPECT_EQ(tuned[0].canonical(), "mla/mla_decode_metadata<33>@sm_90a");
  EXPECT_EQ(tuned[2].canonical(), "mla/mla_decode_combine<128,1,33>@sm_90a");
  EXPECT_EQ(plain[0].canonical(), "mla/mla_decode_metadata<66>@sm_90a");
  EXPECT_EQ(plain[1].kernel, "mla_decode_split");
  for (int i = 0; i < 3; ++i) EXPECT_NE(tuned[i], plain[i]) << i;

  // What mla_decode_metadata and mla_decode both run with.
  const MlaLaunchPlan plan = mla_launch_plan(kConfig, t, rt.tuned_configs());
  EXPECT_TRUE(plan.tuned);
  EXPECT_EQ(plan.num_sms, kFewerSms);
  EXPECT_EQ(plan.config.load_path, MlaLoadPath::tma);
  EXPECT_EQ(mla_num_sm_parts(plan.config, plan.num_sms), 33);
  // Buffers sized for the device's SMs hold the tuned schedule.
  EXPECT_LE(mla_workspace_bytes(plan.config, 64, plan.num_sms), mla_workspace_bytes(kConfig, 64, t.num_sms));
  EXPECT_LE(mla_metadata_bytes(64, 33), mla_metadata_bytes(64, mla_num_sm_parts(kConfig, t.num_sms)));

  // precompile: the op's specs, the model set and a reader of the same database agree.
  const OpFamily& family = find_op_family("mla_decode");
  EXPECT_EQ(family.specs_for(kEntry, t, rt.tuned_configs()), tuned);
  EXPECT_EQ(family.specs_for(kEntry, t), plain);
  const auto model = deepseek_v3_specs(t, rt.tuned_configs());
  for (const auto& s : tuned) EXPECT_TRUE(contains(model, s)) << s.canonical();
  EXPECT_FALSE(contains(deepseek_v3_specs(t), tuned[1])) << "the untuned set has no TMA kernel on 66 SMs";
  const auto loaded = load_tuning_records(options_for(dir / "k.db"));
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(mla_kernel_specs(kConfig, t, loaded.get()), tuned);

  // Other shapes, other SM limits and a call that asks for TMA itself are not touched.
  const MlaConfig other_shape{64, 1, 64, MlaKvDtype::bf16};
  EXPECT_EQ(mla_kernel_specs(other_shape, t, rt.tuned_configs()), mla_kernel_specs(other_shape, t));
  DeviceInfo fewer = t;
  fewer.num_sms = 120;   // a runtime with an SM limit: the winner was measured on 132
  EXPECT_EQ(mla_kernel_specs(kConfig, fewer, rt.tuned_configs()), mla_kernel_specs(kConfig, fewer));
  MlaConfig asks_tma = kConfig;
  asks_tma.load_path = MlaLoadPath::tma;
  EXPECT_EQ(mla_kernel_specs(asks_tma, t, rt.tuned_configs()), mla_kernel_specs(asks_tma, t));
  EXPECT_FALSE(mla_launch_plan(asks_tma, t, rt.tuned_configs()).tuned);
}

TEST(MlaTuning, RecordsOffOrABaselineWinnerLeaveTheCallAsItIs) {
  const auto dir = tuning_test::fresh_dir("mla-off");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    store.put_tuning(winner(t, "cp_async", kFewerSms));
  }
  RuntimeOptions off = options_for(dir / "k.db");
  off.use_tuning_records = false;
  Runtime rt_off(off), rt_on(options_for(dir / "k.db"));
  EXPECT_EQ(rt_off.tuned_configs(), nullptr);
  EXPECT_EQ(load_tuning_records(off), nullptr);
  const auto plain = mla_kernel_specs(kConfig, t);
  EXPECT_EQ(mla_kernel_specs(kConfig, t, rt_off.tuned_configs()), plain);
  EXPECT_FALSE(mla_launch_plan(kConfig, t, rt_off.tuned_configs()).tuned);
  EXPECT_NE(mla_kernel_specs(kConfig, t, rt_on.tuned_configs()), plain) << "the same database with records on";

  // The newest winner is the heuristic's own pick: nothing changes.
  const cache::TuningRecord base = winner(t, "cp_async", t.num_sms, 2000);
  ASSERT_TRUE(base.baseline);
  const TunedConfigs with_base({winner(t, "cp_async", kFewerSms), base});
  EXPECT_EQ(mla_kernel_specs(kConfig, t, &with_base), plain);
}

TEST(MlaTuning, WinnersForAnotherContextAreIgnoredAndCounted) {
  const DeviceInfo t = tuning_test::target();
  std::vector<cache::TuningRecord> rs;
  rs.push_back(winner(t, "tma", kFewerSms, 1000));   // holds, and is the oldest
  auto newer = [&](auto change) {
    cache::TuningRecord r = winner(t, "cp_async", kFewerSms, 2000 + static_cast<int>(rs.size()));
    change(r);
    rs.push_back(r);
  };
  newer([](auto& r) { r.driver_version = 12080; });
  newer([](auto& r) { r.device = "NVIDIA H800"; });
  newer([](auto& r) { r.definition_version = "0123456789abcdef"; });
  // A TMA winner stamped with the cp.async kernel's version: not the definition it ran.
  newer([&](auto& r) {
    r.config_json = nlohmann::json{{"load_path", "tma"}, {"NUM_SMS", kFewerSms}}.dump();
    r.definition_version = winner(t, "cp_async", kFewerSms).definition_version;
  });

  const RecordSelection sel = select_records(rs, t);
  EXPECT_EQ(sel.winners.size(), 1u);
  EXPECT_EQ(sel.ignored.at(kIgnoredDriver), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredDevice), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredDefinition), 2);
  EXPECT_EQ(sel.ignored_by_op.at("mla_decode").at(kIgnoredDefinition), 2);

  // The call skips the newer records that do not hold and uses the one that does.
  const TunedConfigs all(rs);
  EXPECT_EQ(mla_kernel_specs(kConfig, t, &all)[1].kernel, "mla_decode_split_tma");
  const TunedConfigs only_ignored(std::vector<cache::TuningRecord>(rs.begin() + 1, rs.end()));
  EXPECT_EQ(mla_kernel_specs(kConfig, t, &only_ignored), mla_kernel_specs(kConfig, t));
  // A winner whose SM count exceeds the target's is not used.
  cache::TuningRecord too_many = winner(t, "cp_async", kFewerSms, 5000);
  too_many.config_json = nlohmann::json{{"load_path", "cp_async"}, {"NUM_SMS", t.num_sms + 1}}.dump();
  const TunedConfigs bad({too_many});
  EXPECT_FALSE(mla_launch_plan(kConfig, t, &bad).tuned);
}

// The tuner's measurements force a candidate's plan over the winners and the config; the plan
// ends with its scope, and a plan for more SMs than the call has is refused.
TEST(MlaTuning, AForcedPlanWinsOverTheWinnersWhileItLives) {
  const DeviceInfo t = tuning_test::target();
  const TunedConfigs all({winner(t, "tma", kFewerSms)});
  const auto tuned = mla_kernel_specs(kConfig, t, &all);
  {
    const ForcedMlaPlan forced(MlaLoadPath::cp_async, 100);
    const MlaLaunchPlan plan = mla_launch_plan(kConfig, t, &all);
    EXPECT_TRUE(plan.forced);
    EXPECT_FALSE(plan.tuned);
    EXPECT_EQ(plan.num_sms, 100);
    EXPECT_EQ(plan.config.load_path, MlaLoadPath::cp_async);
    const auto specs = mla_kernel_specs(kConfig, t, &all);
    EXPECT_EQ(specs[1].kernel, "mla_decode_split");
    EXPECT_EQ(specs[0].canonical(), "mla/mla_decode_metadata<50>@sm_90a");
    {
      const ForcedMlaPlan inner(MlaLoadPath::tma, 132);
      EXPECT_EQ(mla_launch_plan(kConfig, t, nullptr).config.load_path, MlaLoadPath::tma);
    }
    EXPECT_EQ(mla_launch_plan(kConfig, t, nullptr).num_sms, 100) << "the outer plan again";
    DeviceInfo fewer = t;
    fewer.num_sms = 64;
    EXPECT_THROW(mla_launch_plan(kConfig, fewer, nullptr), Error);
  }
  EXPECT_EQ(ForcedMlaPlan::current(), nullptr);
  EXPECT_EQ(mla_kernel_specs(kConfig, t, &all), tuned);
}

namespace {

// Times by formula (this checks the session and the runtime's use of what it writes, not
// speed): 100 us for the baseline, 80 us for TMA on 66 SMs, 95 us for the others.
class MlaFormulaMeasurer : public Measurer {
 public:
  std::string unavailable() override { return {}; }
  std::string check(const Candidate&) override { return {}; }
  Measurement measure(const Candidate& c, int runs) override {
    const nlohmann::json cfg = nlohmann::json::parse(c.config_json);
    const double t = c.baseline ? 100.0 : cfg.at("load_path") == "tma" && cfg.at("NUM_SMS") == kFewerSms ? 80.0 : 95.0;
    return {t, 0.5, runs};
  }
};

}  // namespace

// A session over one MLA shape writes a winner the runtime then runs: the timed workload is in
// every candidate's config, throughput is GB/s of its KV bytes, and a runtime on the database
// plans the winner's load path and SM count for that shape.
TEST(MlaTuning, ASessionsWinnerIsWhatTheRuntimeRuns) {
  const auto dir = tuning_test::fresh_dir("mla-session");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    MlaFormulaMeasurer m;
    SessionRequest req;
    req.manifest_json = nlohmann::json{{"kernels", {kEntry}}}.dump();
    req.space.sm_counts = {t.num_sms, kFewerSms};
    req.runs = 5;
    SessionOptions o;
    o.compile = tuning_test::fake_compile();
    o.measurer = &m;
    const SessionResult r = run_session(store, req, t, o);
    EXPECT_EQ(r.state, "complete");
    EXPECT_EQ(r.winners, 1);
    const double kv_bytes = 128.0 * 4096 * 1152;
    int measured = 0;
    for (const auto& rec : session_records(store, r.id)) {
      const nlohmann::json cfg = nlohmann::json::parse(rec.config_json);
      if (rec.status != cache::kTuningWinner) {
        EXPECT_EQ(cfg.at("timed_batch"), 128) << rec.config_json;
        EXPECT_EQ(cfg.at("timed_seqlen"), 4096) << rec.config_json;
      }
      if (rec.status == cache::kTuningMeasured) {
        ++measured;
        EXPECT_EQ(rec.throughput_unit, "GB/s");
        EXPECT_NEAR(rec.throughput, kv_bytes / (rec.time_us * 1e3), 1e-6 * rec.throughput);
      }
      if (rec.status == cache::kTuningWinner) {
        EXPECT_FALSE(rec.baseline) << rec.reason;
        EXPECT_EQ(cfg.at("load_path"), "tma");
        EXPECT_EQ(cfg.at("NUM_SMS"), kFewerSms);
      }
    }
    EXPECT_EQ(measured, 4);
  }
  Runtime rt(options_for(dir / "k.db"));
  const MlaLaunchPlan plan = mla_launch_plan(kConfig, t, rt.tuned_configs());
  EXPECT_TRUE(plan.tuned);
  EXPECT_EQ(plan.config.load_path, MlaLoadPath::tma);
  EXPECT_EQ(plan.num_sms, kFewerSms);
}
