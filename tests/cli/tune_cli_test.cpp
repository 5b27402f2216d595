// `shapejit tune` end to end on a machine without a GPU: the CPU phase compiles and records
// every candidate, the command exits 1 saying why nothing was measured, and ls/show/report
// read the session back. (Without a GPU nothing is timed; see tests/tuning for the session
// logic with an injected measurer.)
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "cli_run.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuning.hpp"

using namespace shapejit::testing;

TEST(TuneCli, WithoutAGpuTheCpuPhaseIsRecordedAndTheCommandSaysWhyNothingWasMeasured) {
  if (shapejit::runtime::driver_available()) GTEST_SKIP() << "a GPU is present: the session would measure";
  const auto dir = fresh_dir("tune");
  const std::string db = (dir / "k.db").string();
  {
    std::ofstream m(dir / "m.json");
    m << R"({"kernels":[{"op":"gemm_fp8","m":128,"n":7168,"k":2048},{"spec":"quant/per_token_group_quant<512,128,256>@sm_90a"}]})";
  }
  const CliRun run = run_cli("tune --manifest " + (dir / "m.json").string() + " --max-candidates 2 --json --cache " + db);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_NE(run.out.find("nothing was measured"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("no GPU"), std::string::npos) << run.out;
  const auto pos = run.out.find("{\"");
  ASSERT_NE(pos, std::string::npos) << run.out;
  const auto summary = nlohmann::json::parse(run.out.substr(pos, run.out.find('\n', pos) - pos));
  EXPECT_EQ(summary["state"], "cpu_only");
  EXPECT_EQ(summary["shapes"], 1);
  EXPECT_EQ(summary["candidates"], 2);
  EXPECT_EQ(summary["compiled"].get<int>() + summary["pruned"].get<int>(), 2);
  const std::string id = summary["session"];

  const CliRun ls = run_cli("tune ls --json --cache " + db);
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  const auto sessions = last_json_line(ls.out);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["id"], id);
  EXPECT_EQ(sessions[0]["state"], "cpu_only");

  const CliRun show = run_cli("tune show " + id + " --json --cache " + db);
  ASSERT_EQ(show.exit_code, 0) << show.out;
  const auto s = last_json_line(show.out);
  ASSERT_EQ(s["records"].size(), 2u);
  for (const auto& r : s["records"]) {
    EXPECT_TRUE(r["status"] == "unmeasured" || r["status"] == "pruned") << r.dump();
    EXPECT_EQ(r["median_us"], 0.0);
  }

  // Resuming without a GPU redoes nothing and still exits 1.
  const CliRun again = run_cli("tune --resume " + id + " --json --cache " + db);
  EXPECT_EQ(again.exit_code, 1) << again.out;
  const auto a = nlohmann::json::parse(again.out.substr(again.out.find("{\""), again.out.find('\n', again.out.find("{\"")) - again.out.find("{\"")));
  EXPECT_EQ(a["already_recorded"], 2);
  EXPECT_EQ(a["compiled"], 0);

  const CliRun report = run_cli("tune report " + id + " --svg " + (dir / "r.svg").string() + " --cache " + db);
  EXPECT_EQ(report.exit_code, 0) << report.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "r.svg"));

  const CliRun stats = run_cli("cache stats --json --cache " + db);
  ASSERT_EQ(stats.exit_code, 0) << stats.out;
  EXPECT_EQ(last_json_line(stats.out)["tuning"]["winners_usable"], 0);
}

TEST(TuneCli, BadInputIsExitTwoNamingTheProblem) {
  const auto dir = fresh_dir("tune-bad");
  const std::string db = (dir / "k.db").string();
  CliRun r = run_cli("tune --model deepseek-v3 --ops gemm_fp8 --budget 5parsecs --cache " + db);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--budget"), std::string::npos) << r.out;
  r = run_cli("tune --model deepseek-v3 --ops quant_fp8 --cache " + db);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no search space"), std::string::npos) << r.out;
  // Tunable, but the model's shape set names none: an error naming the op, not an empty session.
  r = run_cli("tune --model deepseek-v3 --ops gemm_bf16 --cache " + db);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no shapes for gemm_bf16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--manifest"), std::string::npos) << r.out;
  r = run_cli("tune --resume nope --cache " + db);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("no session 'nope'"), std::string::npos) << r.out;
  r = run_cli("tune --cache " + db);
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

// A winner in the database steers what precompile compiles (the spec calls will load), `cache
// ls` marks that kernel tuned, and `cache stats` / `info` count the winners that hold here and
// why the others are ignored. The winner is written directly: this checks the use of records,
// not a measurement.
TEST(TuneCli, AWinnerIsWhatPrecompileCompilesAndWhatCacheLsMarksTuned) {
  if (shapejit::runtime::driver_available()) GTEST_SKIP() << "a GPU is present: the target is that device";
  namespace rt = shapejit::runtime;
  const auto dir = fresh_dir("tune-use");
  const std::string db = (dir / "k.db").string();
  const rt::DeviceInfo target = rt::default_target_device();
  rt::GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  rt::GemmConfig c = rt::heuristic_gemm_config(p, target);
  ASSERT_NE(c.block_n, 64);
  c.block_n = 64;   // not the heuristic's pick
  c.num_stages = 4;
  c.smem_bytes = rt::gemm_smem_bytes(p.kind, c.block_m, c.block_n, c.num_stages, false);
  ASSERT_TRUE(rt::gemm_config_valid(p, c, target));
  const std::string tuned_spec = rt::gemm_kernel_spec(p, c, target).canonical();
  {
    shapejit::cache::KernelStore store(db);
    const rt::tuning::TuningContext ctx = rt::tuning::context_of(target);
    shapejit::cache::TuningRecord w;
    w.key = "w";
    w.spec_family = "gemm_fp8";
    w.shape_json = rt::tuning::gemm_shape_json(p);
    w.config_json = nlohmann::json{{"BLOCK_M", c.block_m}, {"BLOCK_N", 64}, {"kNumStages", 4}, {"kNumMulticast", 1},
                                   {"kMulticastOnA", false}, {"kSwizzleDBytes", c.swizzle_d_bytes},
                                   {"NUM_SMS", c.num_sms}}
                        .dump();
    w.status = shapejit::cache::kTuningWinner;
    w.spec = tuned_spec;
    rt::tuning::stamp_context(w, ctx);
    w.definition_version = rt::tuning::definition_version(rt::gemm_definition(rt::GemmKind::fp8_1d2d));
    store.put_tuning(w);
    w.key = "stale";
    w.driver_version = 12080;   // another driver: ignored
    store.put_tuning(w);
  }
  {
    std::ofstream m(dir / "m.json");
    m << R"({"kernels":[{"op":"gemm_fp8","m":3000,"n":7168,"k":2048}]})";
  }
  const CliRun pre = run_cli("precompile --manifest " + (dir / "m.json").string() + " --json --cache " + db);
  ASSERT_EQ(pre.exit_code, 0) << pre.out;

  const CliRun ls = run_cli("cache ls --json --cache " + db);
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  const auto kernels = last_json_line(ls.out);
  ASSERT_EQ(kernels.size(), 1u) << ls.out;
  EXPECT_EQ(kernels[0]["spec"], tuned_spec);
  EXPECT_TRUE(kernels[0]["tuned"].get<bool>());
  EXPECT_NE(run_cli("cache ls --cache " + db).out.find("[tuned]"), std::string::npos);

  const auto stats = last_json_line(run_cli("cache stats --json --cache " + db).out);
  EXPECT_EQ(stats["tuning"]["winners_usable"], 1);
  EXPECT_EQ(stats["tuning"]["winners_ignored"]["other driver"], 1);
  const auto info = last_json_line(run_cli("info --json --cache " + db).out);
  EXPECT_EQ(info["tuning"]["winners_usable"], 1);
}

// The same for MLA decode: a winner (TMA split kernel on fewer SMs) makes precompile compile the
// scheduler, split and combine kernels the tuned call loads, `cache ls` marks all three tuned,
// and `cache stats` / `info` count MLA's winners and its ignored records by op and reason.
TEST(TuneCli, AnMlaWinnerIsWhatPrecompileCompilesAndWhatCacheLsMarksTuned) {
  if (shapejit::runtime::driver_available()) GTEST_SKIP() << "a GPU is present: the target is that device";
  namespace rt = shapejit::runtime;
  const auto dir = fresh_dir("tune-use-mla");
  const std::string db = (dir / "k.db").string();
  const rt::DeviceInfo target = rt::default_target_device();
  const nlohmann::json entry = {{"op", "mla_decode"}, {"h_q", 128}, {"s_q", 1}, {"page_size", 64}, {"kv_dtype", "bf16"}};
  rt::tuning::SpaceOptions o;
  o.sm_counts = {target.num_sms, 66};
  const rt::tuning::SearchSpace space = rt::tuning::search_space("mla_decode", entry.dump(), target, o);
  const rt::tuning::Candidate* chosen = nullptr;
  for (const auto& c : space.candidates)
    if (nlohmann::json::parse(c.config_json).at("load_path") == "tma" &&
        nlohmann::json::parse(c.config_json).at("NUM_SMS") == 66)
      chosen = &c;
  ASSERT_NE(chosen, nullptr);
  {
    shapejit::cache::KernelStore store(db);
    const rt::tuning::TuningContext ctx = rt::tuning::context_of(target);
    shapejit::cache::TuningRecord w;
    w.key = "w";
    w.spec_family = chosen->op;
    w.shape_json = chosen->shape_json;
    w.config_json = chosen->config_json;
    w.spec = chosen->spec.canonical();
    w.status = shapejit::cache::kTuningWinner;
    rt::tuning::stamp_context(w, ctx);
    w.definition_version = chosen->definition_version;
    store.put_tuning(w);
    w.key = "stale";
    w.definition_version = "0123456789abcdef";   // an edited kernel since: ignored
    store.put_tuning(w);
  }
  {
    std::ofstream m(dir / "m.json");
    m << nlohmann::json{{"kernels", {entry}}}.dump();
  }
  const CliRun pre = run_cli("precompile --manifest " + (dir / "m.json").string() + " --json --cache " + db);
  ASSERT_EQ(pre.exit_code, 0) << pre.out;

  const CliRun ls = run_cli("cache ls --json --cache " + db);
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  const auto kernels = last_json_line(ls.out);
  ASSERT_EQ(kernels.size(), 3u) << ls.out;
  std::set<std::string> specs;
  for (const auto& k : kernels) {
    EXPECT_TRUE(k["tuned"].get<bool>()) << k["spec"];
    specs.insert(k["spec"].get<std::string>());
  }
  EXPECT_TRUE(specs.count(chosen->spec.canonical()));
  EXPECT_TRUE(specs.count("mla/mla_decode_metadata<33>@sm_90a")) << ls.out;
  EXPECT_TRUE(specs.count("mla/mla_decode_combine<128,1,33>@sm_90a")) << ls.out;

  const auto stats = last_json_line(run_cli("cache stats --json --cache " + db).out);
  EXPECT_EQ(stats["tuning"]["winners_usable_by_op"]["mla_decode"], 1);
  EXPECT_EQ(stats["tuning"]["winners_ignored_by_op"]["mla_decode"]["other kernel definition"], 1);
  const CliRun info = run_cli("info --cache " + db);
  EXPECT_NE(info.out.find("mla_decode 1"), std::string::npos) << info.out;
}

// tune reads manifests as precompile does: a bare array of entries is a manifest, and a bad
// entry is exit 2 naming its index before anything compiles.
TEST(TuneCli, TakesManifestsInThePrecompileFormat) {
  const auto dir = fresh_dir("tune-manifest");
  const std::string db = (dir / "k.db").string();
  {
    std::ofstream m(dir / "bare.json");
    m << R"([{"op":"gemm_fp8","m":128,"n":7168,"k":2048}])";
    std::ofstream bad(dir / "bad.json");
    bad << R"({"kernels":[{"op":"gemm_fp8","m":128,"n":7168,"k":2048},{"op":"gemm_fp8","m":128,"n":7168}]})";
  }
  const CliRun run = run_cli("tune --manifest " + (dir / "bare.json").string() +
                             " --max-candidates 1 --json --cache " + db);
  EXPECT_NE(run.exit_code, 2) << run.out;
  const auto pos = run.out.find("{\"");
  ASSERT_NE(pos, std::string::npos) << run.out;
  EXPECT_EQ(nlohmann::json::parse(run.out.substr(pos, run.out.find('\n', pos) - pos))["shapes"], 1);

  const CliRun bad = run_cli("tune --manifest " + (dir / "bad.json").string() + " --json --cache " + db);
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("kernels[1]"), std::string::npos) << bad.out;
}
