// Winner records are used only on the device, SM count, arch, driver, NVRTC and kernel
// definition they were measured with; the others are ignored and counted by reason. A GEMM call
// consults the winners of the runtime it is given before the heuristic unless that runtime
// turns records off, and export/import carry records and sessions.
#include <gtest/gtest.h>

#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
using namespace shapejit::runtime::tuning;

namespace {

GemmProblem problem() {
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  return p;
}

// A winner for problem() on the test target: BLOCK_N 64 (not what the heuristic picks).
cache::TuningRecord winner(const DeviceInfo& t, int num_stages = 4) {
  GemmProblem p = problem();
  GemmConfig c = heuristic_gemm_config(p, t);
  c.block_n = 64;
  c.swizzle_d_bytes = 128;
  c.num_stages = num_stages;
  c.smem_bytes = gemm_smem_bytes(p.kind, c.block_m, c.block_n, c.num_stages, false);
  cache::TuningRecord r;
  r.key = "w1";
  r.spec_family = "gemm_fp8";
  r.shape_json = gemm_shape_json(p);
  r.config_json = nlohmann::json{{"BLOCK_M", c.block_m}, {"BLOCK_N", c.block_n}, {"kNumStages", c.num_stages},
                                 {"kNumMulticast", 1}, {"kMulticastOnA", false}, {"kSwizzleDBytes", 128},
                                 {"NUM_SMS", t.num_sms}}
                      .dump();
  r.status = cache::kTuningWinner;
  r.time_us = 90;
  r.baseline_us = 100;
  stamp_context(r, context_of(t));
  r.definition_version = definition_version(gemm_definition(GemmKind::fp8_1d2d));
  return r;
}

}  // namespace

TEST(TuningRecords, RecordsForAnotherContextAreIgnoredAndCountedByReason) {
  const DeviceInfo t = tuning_test::target();
  std::vector<cache::TuningRecord> rs;
  rs.push_back(winner(t));
  auto other = [&](auto change) {
    cache::TuningRecord r = winner(t);
    change(r);
    rs.push_back(r);
  };
  other([](auto& r) { r.device = "NVIDIA H800"; });
  other([](auto& r) { r.num_sms = 112; });
  other([](auto& r) { r.arch = "sm_100a"; });
  other([](auto& r) { r.driver_version = 12080; });
  other([](auto& r) { r.nvrtc_version = "12.8 (old)"; });
  other([](auto& r) { r.definition_version = "0123456789abcdef"; });
  other([](auto& r) { r.spec_family = "gemm_fp4"; });
  const RecordSelection sel = select_records(rs, t);
  EXPECT_EQ(sel.winners.size(), 1u);
  EXPECT_EQ(sel.ignored.at(kIgnoredDevice), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredSms), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredArch), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredDriver), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredNvrtc), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredDefinition), 1);
  EXPECT_EQ(sel.ignored.at(kIgnoredUnknownOp), 1);

  // Only the matching record gives a config; on a 112-SM runtime nothing applies.
  const auto c = tuned_gemm_config(rs, problem(), t);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->block_n, 64);
  DeviceInfo fewer = t;
  fewer.num_sms = 120;
  EXPECT_FALSE(tuned_gemm_config({winner(t)}, problem(), fewer));
  // A baseline winner means: keep the heuristic.
  cache::TuningRecord b = winner(t);
  b.baseline = true;
  EXPECT_FALSE(tuned_gemm_config({b}, problem(), t));
}

TEST(TuningRecords, GemmCallsUseTheWinnersTheyAreGivenBeforeTheHeuristic) {
  const auto dir = tuning_test::fresh_dir("use");
  const DeviceInfo t = tuning_test::target();
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  store.put_tuning(winner(t));
  const TunedConfigs all(store);
  EXPECT_EQ(all.size(), 1);
  const GemmConfigLookup& tuned = *all.gemm();
  GemmProblem p = problem();
  p.m = 3000;   // same bucket (4096)
  EXPECT_EQ(choose_gemm_config(p, t, &tuned).block_n, 64);
  EXPECT_EQ(choose_gemm_config(p, t), heuristic_gemm_config(problem(), t)) << "no records";
  DeviceInfo other = t;
  other.driver_version = 12080;
  EXPECT_EQ(choose_gemm_config(p, other, &tuned), heuristic_gemm_config(problem(), other));
  GemmProblem small = problem();
  small.m = 64;
  EXPECT_EQ(choose_gemm_config(small, t, &tuned), heuristic_gemm_config(small, t)) << "no record for that bucket";
}

// Each runtime's GEMM calls use its own database's winners: two runtimes on databases with
// different winners for one shape, and one with records off, coexist in one process.
TEST(TuningRecords, EachRuntimeUsesItsOwnDatabasesWinners) {
  const auto dir = tuning_test::fresh_dir("runtime");
  const DeviceInfo t = tuning_test::target();
  for (auto [db, stages] : {std::pair{"a.db", 4}, std::pair{"b.db", 3}}) {
    cache::KernelStore store(dir / db, tuning_test::quiet());
    store.put_tuning(winner(t, stages));
  }
  RuntimeOptions oa;
  oa.cache_path = dir / "a.db";
  RuntimeOptions ob = oa;
  ob.cache_path = dir / "b.db";
  RuntimeOptions off = oa;
  off.use_tuning_records = false;
  Runtime ra(oa), rb(ob), roff(off);
  ASSERT_NE(ra.gemm_tuning(), nullptr);
  ASSERT_NE(rb.gemm_tuning(), nullptr);
  EXPECT_EQ(roff.gemm_tuning(), nullptr) << "records off";

  const GemmProblem p = problem();
  const GemmConfig a = choose_gemm_config(p, t, ra.gemm_tuning());
  const GemmConfig b = choose_gemm_config(p, t, rb.gemm_tuning());
  EXPECT_EQ(a.block_n, 64);
  EXPECT_EQ(a.num_stages, 4);
  EXPECT_EQ(b.block_n, 64);
  EXPECT_EQ(b.num_stages, 3);
  const GemmConfig h = heuristic_gemm_config(p, t);
  ASSERT_NE(h, a);
  ASSERT_NE(h, b);
  EXPECT_EQ(choose_gemm_config(p, t, roff.gemm_tuning()), h) << "records off beside runtimes with records on";
  EXPECT_EQ(choose_gemm_config(p, t), h) << "no runtime given: the heuristic";

  // The spec a call loads follows the same runtime (what precompile and the front ends use).
  const GemmFp8Args args{.m = 4096, .n = 7168, .k = 2048};
  EXPECT_EQ(gemm_spec(args, t, ra.gemm_tuning()), gemm_kernel_spec(p, a, t));
  EXPECT_EQ(gemm_spec(args, t, rb.gemm_tuning()), gemm_kernel_spec(p, b, t));
  EXPECT_EQ(gemm_spec(args, t, roff.gemm_tuning()), gemm_kernel_spec(p, h, t));
  // Building another runtime changes nothing for those that exist.
  { Runtime later(ob); }
  EXPECT_EQ(choose_gemm_config(p, t, ra.gemm_tuning()), a);
}

// The runtime's lookup serves every op by (op, shape text): the newest winner that holds for
// the device, nothing for a shape, op or context without one, and nothing when the heuristic's
// own pick won. An MLA winner is recognised (its definition version is the split kernel's).
TEST(TuningRecords, TheRuntimesLookupFindsAnyOpsWinnerByShape) {
  const DeviceInfo t = tuning_test::target();
  const std::string shape = R"({"h_q":128,"kv_dtype":"bf16","op":"mla_decode","page_size":64,"s_q":1})";
  auto mla = [&](const char* key, const char* path, int sms, std::int64_t at) {
    cache::TuningRecord r = winner(t);
    r.key = key;
    r.spec_family = "mla_decode";
    r.shape_json = shape;
    r.config_json = nlohmann::json{{"load_path", path}, {"NUM_SMS", sms}}.dump();
    r.measured_at = at;
    r.definition_version = definition_version(
        jit::find_kernel_definition("mla", std::string(path) == "tma" ? "mla_decode_split_tma" : "mla_decode_split"));
    return r;
  };
  const TunedConfigs all({mla("old", "tma", 100, 1000), mla("new", "cp_async", 96, 2000), winner(t)});
  EXPECT_EQ(all.size(), 3);
  EXPECT_TRUE(all.has("mla_decode"));
  EXPECT_FALSE(all.has("moe_dispatch"));
  const auto r = all.find("mla_decode", shape, t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->key, "new") << "the newest winner";
  EXPECT_FALSE(all.find("mla_decode", R"({"h_q":64})", t)) << "another shape";
  EXPECT_FALSE(all.find("gemm_bf16", shape, t)) << "another op";
  DeviceInfo other = t;
  other.driver_version = 12080;
  EXPECT_FALSE(all.find("mla_decode", shape, other)) << "another driver";
  EXPECT_TRUE(all.find(gemm_op(problem()), gemm_shape_json(problem()), t)) << "GEMM through the same lookup";

  // A winner whose definition version is not the current one for its load path is ignored.
  cache::TuningRecord stale = mla("stale", "tma", 100, 3000);
  stale.definition_version = mla("x", "cp_async", 100, 0).definition_version;
  EXPECT_EQ(mismatch(stale, t), kIgnoredDefinition);
  EXPECT_EQ(TunedConfigs({stale}).find("mla_decode", shape, t), std::nullopt);
  // The heuristic's pick won last: nothing to change.
  cache::TuningRecord base = mla("base", "cp_async", t.num_sms, 3000);
  base.baseline = true;
  EXPECT_FALSE(TunedConfigs({mla("new", "cp_async", 96, 2000), base}).find("mla_decode", shape, t));
}

TEST(TuningRecords, ExportImportCarriesRecordsAndSessions) {
  const auto dir = tuning_test::fresh_dir("export");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore src(dir / "src.db", tuning_test::quiet());
    cache::TuningRecord r = winner(t);
    r.session = "s1";
    r.reason = "1.11x over the heuristic";
    r.spread_us = 0.7;
    src.put_tuning(r);
    src.put_tuning_session({"s1", 0, 0, "complete", "{}", "ctx", "{\"winners\":1}"});
    src.export_to(dir / "art.db");
  }
  cache::KernelStore dst(dir / "dst.db", tuning_test::quiet());
  const cache::ImportResult res = dst.import_from(dir / "art.db");
  EXPECT_EQ(res.tuning_records, 1);
  EXPECT_EQ(res.tuning_sessions, 1);
  const auto got = dst.get_tuning("w1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, cache::kTuningWinner);
  EXPECT_EQ(got->session, "s1");
  EXPECT_EQ(got->reason, "1.11x over the heuristic");
  EXPECT_DOUBLE_EQ(got->spread_us, 0.7);
  EXPECT_EQ(got->definition_version, winner(t).definition_version);
  EXPECT_EQ(got->driver_version, 13000);
  ASSERT_TRUE(dst.tuning_session("s1"));
  EXPECT_EQ(dst.tuning_session("s1")->state, "complete");
  EXPECT_EQ(select_records(dst, t).winners.size(), 1u);
}

// A winner record naming the tests' wrong-on-purpose kernel (GemmConfig::test_drop_last_k_block)
// is never used: the call keeps the heuristic's config.
TEST(TuningRecords, AWinnerThatDropsAKBlockIsNeverUsed) {
  const DeviceInfo t = tuning_test::target();
  cache::TuningRecord good = winner(t);
  ASSERT_TRUE(tuned_gemm_config({good}, problem(), t).has_value());
  cache::TuningRecord bad = good;
  nlohmann::json j = nlohmann::json::parse(bad.config_json);
  j["test_drop_last_k_block"] = true;
  bad.config_json = j.dump();
  ASSERT_TRUE(gemm_config_of(bad, problem())->test_drop_last_k_block);
  EXPECT_FALSE(tuned_gemm_config({bad}, problem(), t).has_value());
}
