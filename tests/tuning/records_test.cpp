// Winner records are used only on the device, SM count, arch, driver, NVRTC and kernel
// definition they were measured with; the others are ignored and counted by reason. The GEMM
// calls consult the winners before the heuristic unless a runtime turns records off, and
// export/import carry records and sessions.
#include <gtest/gtest.h>

#include "shapejit/jit/compiler.hpp"
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
cache::TuningRecord winner(const DeviceInfo& t) {
  GemmProblem p = problem();
  GemmConfig c = heuristic_gemm_config(p, t);
  c.block_n = 64;
  c.swizzle_d_bytes = 128;
  c.num_stages = 4;
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
  const TuningContext ctx = context_of(t);
  r.device = ctx.device;
  r.arch = ctx.arch;
  r.num_sms = ctx.num_sms;
  r.driver_version = ctx.driver_version;
  r.nvrtc_version = ctx.nvrtc_version;
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

TEST(TuningRecords, GemmCallsUseWinnersBeforeTheHeuristicUnlessRecordsAreOff) {
  const auto dir = tuning_test::fresh_dir("use");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    store.put_tuning(winner(t));
    EXPECT_EQ(use_tuned_gemm_configs(store), 1);
  }
  GemmProblem p = problem();
  p.m = 3000;   // same bucket (4096)
  EXPECT_EQ(choose_gemm_config(p, t).block_n, 64);
  EXPECT_EQ(choose_gemm_config(p, t, false), heuristic_gemm_config(problem(), t)) << "records off";
  DeviceInfo other = t;
  other.driver_version = 12080;
  EXPECT_EQ(choose_gemm_config(p, other), heuristic_gemm_config(problem(), other));
  GemmProblem small = problem();
  small.m = 64;
  EXPECT_EQ(choose_gemm_config(small, t), heuristic_gemm_config(small, t)) << "no record for that bucket";
  set_gemm_config_override(nullptr);
}

TEST(TuningRecords, ARuntimeInstallsItsDatabasesWinnersUnlessRecordsAreOff) {
  const auto dir = tuning_test::fresh_dir("runtime");
  const DeviceInfo t = tuning_test::target();
  {
    cache::KernelStore store(dir / "k.db", tuning_test::quiet());
    store.put_tuning(winner(t));
  }
  set_gemm_config_override(nullptr);
  RuntimeOptions off;
  off.cache_path = dir / "k.db";
  off.use_tuning_records = false;
  { Runtime rt(off); }
  EXPECT_EQ(choose_gemm_config(problem(), t), heuristic_gemm_config(problem(), t)) << "records off: not installed";
  RuntimeOptions on = off;
  on.use_tuning_records = true;
  { Runtime rt(on); }
  EXPECT_EQ(choose_gemm_config(problem(), t).block_n, 64);
  set_gemm_config_override(nullptr);
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
