// The host side of `shapejit bench profile` (cli/bench_profile_plan.cpp): which ops are measured
// at which token counts and which are carried, the profile assembled from measurements, the
// report, and the file handling. No GPU involved.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "bench_profile_plan.hpp"
#include "cli_run.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/overlap.hpp"

namespace fs = std::filesystem;
using namespace shapejit;
using namespace shapejit::cli;

namespace {

const std::string kBasePath =
    std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/h800_deepseek_v3_single_node_ep8.json";

std::string error_of(const std::function<void()>& f, Errc expected = Errc::invalid_argument) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected) << e.what();
    return e.what();
  }
  return "accepted";
}

// Made-up measurements for every planned op: 10 us per piece per 64 tokens, plus 5.
std::vector<std::vector<OpMeasurement>> fake_results(const ProfilePlan& plan) {
  std::vector<std::vector<OpMeasurement>> results;
  for (const PlannedOp& p : plan.measure) {
    std::vector<OpMeasurement> rows;
    for (int t : p.tokens) rows.push_back({t, {{"first", 5 + 10.0 * t / 64}, {"second", 2.5}}});
    results.push_back(rows);
  }
  return results;
}

const PlannedOp* find(const ProfilePlan& plan, const std::string& phase, const std::string& op) {
  for (const auto& p : plan.measure)
    if (p.phase == phase && p.op == op) return &p;
  return nullptr;
}

const planner::CarriedOp* find_carried(const ProfilePlan& plan, const std::string& phase,
                                       const std::string& op) {
  for (const auto& c : plan.carried)
    if (c.phase == phase && c.op == op) return &c;
  return nullptr;
}

}  // namespace

TEST(BenchProfilePlan, TokenCountsAreAQuarterHalfOnceAndTwiceThePhase) {
  EXPECT_EQ(profile_token_counts(16384), (std::vector<int>{4096, 8192, 16384, 32768}));
  EXPECT_EQ(profile_token_counts(128), (std::vector<int>{32, 64, 128, 256}));
  EXPECT_EQ(profile_token_counts(3), (std::vector<int>{1, 3, 6}));
  EXPECT_EQ(profile_token_counts(1), (std::vector<int>{1, 2}));
}

TEST(BenchProfilePlan, BothPhasesMeasureExpertsAndSharedExpertDecodeAlsoAttention) {
  const auto base = read_base_profile(kBasePath);
  const ProfilePlan plan = plan_profile(base, kBasePath, 4096);
  ASSERT_EQ(plan.measure.size(), 5u);
  // The chooser's phase order: prefill first.
  EXPECT_EQ(plan.measure[0].phase, "prefill");
  for (const char* phase : {"prefill", "decode"}) {
    for (const char* op : {"moe_gemm", "shared_expert"}) {
      const PlannedOp* p = find(plan, phase, op);
      ASSERT_NE(p, nullptr) << phase << "." << op;
      EXPECT_EQ(p->tokens, profile_token_counts(base["phases"][phase]["tokens"].get<int>()));
    }
    for (const char* op : {"dispatch", "combine"}) {
      const auto* c = find_carried(plan, phase, op);
      ASSERT_NE(c, nullptr) << phase << "." << op;
      EXPECT_NE(c->why.find("no measured communication given"), std::string::npos) << c->why;
      EXPECT_NE(c->why.find("--comm FILE"), std::string::npos) << c->why;
    }
  }
  EXPECT_EQ(find(plan, "prefill", "moe_gemm")->kernel, ProfileKernel::moe_experts);
  EXPECT_EQ(find(plan, "decode", "shared_expert")->kernel, ProfileKernel::shared_expert);
  const PlannedOp* attention = find(plan, "decode", "attention");
  ASSERT_NE(attention, nullptr);
  EXPECT_EQ(attention->kernel, ProfileKernel::mla_decode_attention);
  EXPECT_EQ(attention->tokens, (std::vector<int>{32, 64, 128, 256}));
  for (const char* says : {"MLA decode core", "h_q 128", "s_q 1", "page 64", "BF16 KV", "context 4096",
                           "3 FP8 projection GEMMs", "q_a+kv_a N=2112 K=7168", "q_b N=24576 K=1536",
                           "o_proj N=7168 K=16384", "kv_b absorption", "not included"})
    EXPECT_NE(attention->how.find(says), std::string::npos) << says << "\n" << attention->how;
  EXPECT_EQ(find(plan, "prefill", "attention"), nullptr);
  ASSERT_NE(find_carried(plan, "prefill", "attention"), nullptr);
  EXPECT_NE(find_carried(plan, "prefill", "attention")->why.find("no prefill attention kernel"),
            std::string::npos);
  EXPECT_EQ(find_carried(plan, "decode", "attention"), nullptr);
  const std::string& shared = find(plan, "prefill", "shared_expert")->how;
  for (const char* says : {"[T x 7168] x [4096 x 7168]^T", "SwiGLU", "[T x 2048] x [7168 x 2048]^T"})
    EXPECT_NE(shared.find(says), std::string::npos) << says << "\n" << shared;
  EXPECT_NE(find(plan, "decode", "moe_gemm")->how.find("32 local experts"), std::string::npos);
}

TEST(BenchProfilePlan, ContextAndPhaseSizesOutOfRangeAreNamed) {
  const auto base = read_base_profile(kBasePath);
  EXPECT_NE(error_of([&] { plan_profile(base, "b.json", 0); }).find("--context 0: must be in [1, 1048576]"),
            std::string::npos);
  // 256 requests x 65536 tokens x 1152 B = 18 GiB of KV cache.
  EXPECT_NE(error_of([&] { plan_profile(base, "b.json", 65536); }).find("18.0 GiB (at most 16); lower --context"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { plan_profile(base, "b.json", 32768); }), "accepted");
  auto big = base;
  big["phases"]["prefill"]["tokens"] = 65536;
  EXPECT_NE(error_of([&] { plan_profile(big, "b.json", 4096); }).find("b.json: phases.prefill.tokens = 65536"),
            std::string::npos);
  auto no_ops = base;
  no_ops["phases"]["decode"]["ops"].erase("shared_expert");
  EXPECT_NE(error_of([&] { plan_profile(no_ops, "b.json", 4096); }).find("phases.decode.ops: missing field \"shared_expert\""),
            std::string::npos);
}

TEST(BenchProfilePlan, AssembledProfileIsReadByTheChooserAndSaysWhatIsMeasured) {
  const auto base = read_base_profile(kBasePath);
  const ProfilePlan plan = plan_profile(base, "base.json", 4096);
  const auto results = fake_results(plan);
  const auto profile = assemble_profile(base, "base.json", plan, results, "NVIDIA H100 80GB HBM3", 132,
                                        "shapejit bench profile --base base.json --context 4096");
  const planner::CostProfile p = planner::parse_cost_profile(profile.dump(), "assembled");
  ASSERT_EQ(p.phases.size(), 2u);
  const planner::PhaseProfile& decode = p.phases[1];
  ASSERT_EQ(decode.name, "decode");
  // Each point is the sum of the pieces: 5 + 10·t/64 + 2.5.
  EXPECT_DOUBLE_EQ(decode.attention.time_us(128, 132, 132), 27.5);
  EXPECT_DOUBLE_EQ(p.phases[0].moe_gemm.time_us(16384, 132, 132), 5 + 10.0 * 16384 / 64 + 2.5);
  nlohmann::json attention = profile["phases"]["prefill"]["ops"]["attention"];
  EXPECT_EQ(attention["source"], "carried from base.json: shapejit has no prefill attention kernel");
  attention.erase("source");
  EXPECT_EQ(attention, base["phases"]["prefill"]["ops"]["attention"]);
  EXPECT_EQ(profile["phases"]["decode"]["ops"]["attention"]["source"].get<std::string>().rfind("measured: MLA decode", 0), 0u);
  EXPECT_EQ(planner::choose_overlap(p).size(), 2u);
  const std::string source = profile["source"];
  EXPECT_EQ(source.rfind("MEASURED on NVIDIA H100 80GB HBM3 by `shapejit bench profile --base base.json --context 4096`", 0), 0u);
  EXPECT_NE(source.find("phases.decode.ops.attention (MLA decode core"), std::string::npos) << source;
  EXPECT_NE(source.find("phases.prefill.ops.attention (shapejit has no prefill attention kernel)"), std::string::npos) << source;
  EXPECT_NE(source.find("phases.decode.ops.dispatch (no measured communication given"), std::string::npos) << source;

  // Measurements that do not match the plan are refused rather than written.
  auto short_results = results;
  short_results[0].pop_back();
  EXPECT_NE(error_of([&] { assemble_profile(base, "base.json", plan, short_results, "gpu", 132, "cmd"); })
                .find("3 measurements for 4 token counts"),
            std::string::npos);
  auto nan_results = results;
  nan_results[1][0].pieces[0].us = NAN;
  EXPECT_NE(error_of([&] { assemble_profile(base, "base.json", plan, nan_results, "gpu", 132, "cmd"); })
                .find("has no valid time"),
            std::string::npos);
  EXPECT_NE(error_of([&] { assemble_profile(base, "base.json", plan, {}, "gpu", 132, "cmd"); }).find("0 measured ops for 5 planned"),
            std::string::npos);
}

TEST(BenchProfilePlan, ReportIsOneJsonLineAndATableOfTheSameNumbers) {
  const auto base = read_base_profile(kBasePath);
  const ProfilePlan plan = plan_profile(base, "base.json", 2048);
  const auto report = profile_report(plan, fake_results(plan), "gpu", 132, "out.json", "base.json", 2048);
  const std::string line = report.dump();
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["context"], 2048);
  EXPECT_EQ(j["phases"]["decode"]["measured"]["attention"]["points"][2][0], 128);
  EXPECT_DOUBLE_EQ(j["phases"]["decode"]["measured"]["attention"]["points"][2][1].get<double>(), 27.5);
  EXPECT_EQ(j["phases"]["decode"]["measured"]["attention"]["pieces"][2]["second_us"], 2.5);
  EXPECT_NE(j["phases"]["prefill"]["carried"]["attention"].get<std::string>().find("no prefill attention"),
            std::string::npos);
  std::ostringstream table;
  print_profile_table(table, report);
  const std::string t = table.str();
  EXPECT_NE(t.find("decode   attention          128        27.5  first 25.0, second 2.5"), std::string::npos) << t;
  EXPECT_NE(t.find("prefill.attention: shapejit has no prefill attention kernel"), std::string::npos) << t;
  EXPECT_NE(t.find("wrote out.json"), std::string::npos);
  // Phases in the chooser's order in the table too.
  EXPECT_LT(t.find("prefill  moe_gemm"), t.find("decode   attention"));
}

TEST(BenchProfilePlan, BaseProfileErrorsNameTheFile) {
  const fs::path dir = shapejit::testing::fresh_dir("plan-base");
  const std::string missing = (dir / "missing.json").string();
  EXPECT_NE(error_of([&] { read_base_profile(missing); }).find("base profile " + missing + ": no such file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_base_profile(dir.string()); }).find("not a regular file"), std::string::npos);
  std::ofstream(dir / "bad.json") << "[1, 2";
  EXPECT_NE(error_of([&] { read_base_profile((dir / "bad.json").string()); }).find((dir / "bad.json").string() + ": not valid JSON"),
            std::string::npos);
  std::ofstream(dir / "costs.json") << R"({"F": 1, "B": 2})";
  EXPECT_NE(error_of([&] { read_base_profile((dir / "costs.json").string()); }).find((dir / "costs.json").string() + ": "),
            std::string::npos);
}

TEST(BenchProfilePlan, OutputIsWrittenWholeOrNotAtAll) {
  const fs::path dir = shapejit::testing::fresh_dir("plan-out");
  const std::string out = (dir / "p.json").string();
  EXPECT_EQ(error_of([&] { check_output_folder("--out", out); }), "accepted");
  EXPECT_NE(error_of([&] { check_output_folder("--out", (dir / "x" / "p.json").string()); })
                .find("--out " + (dir / "x" / "p.json").string() + ": folder " + (dir / "x").string() + " does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_folder("--out", dir.string()); }).find("is a folder"), std::string::npos);
  std::ofstream(out) << "old, longer content\n";
  write_file_atomically(out, "new\n");
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "new\n");
  EXPECT_NE(error_of([&] { write_file_atomically((dir / "x" / "p.json").string(), "t"); }, Errc::io)
                .find("cannot write"),
            std::string::npos);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

namespace {

// `bench ep --json --sweep` output of one rank, as that command prints it (pretty JSON).
std::string ep_run(int rank, const std::string& mode, const std::string& phase, double us_per_token) {
  nlohmann::ordered_json points = nlohmann::ordered_json::array();
  for (int t : {1024, 2048, 4096, 8192})
    points.push_back({{"tokens", t}, {"received_rows", 5.0 * t}, {"dispatch_gbps", 1.0},
                      {"dispatch_us", 40 + us_per_token * t}, {"combine_us", 60 + 2 * us_per_token * t},
                      {"combine_gbps", 1.0}});
  nlohmann::ordered_json j = {{"rank", rank}, {"ranks", 8}, {"device", "NVIDIA H200"}, {"mode", mode},
                              {"comm_sms", 24}, {"hidden", 7168}, {"top_k", 8}, {"experts", 256}, {"points", points}};
  if (!phase.empty()) j["phase"] = phase;
  return j.dump(2) + "\n";
}

}  // namespace

TEST(BenchProfilePlan, CommFileMakesDispatchAndCombineMeasuredPerEntry) {
  const fs::path dir = shapejit::testing::fresh_dir("plan-comm");
  // Every rank's output in one file, rank 0 not first: rank 0's run is taken.
  std::ofstream(dir / "prefill.json") << ep_run(1, "normal", "", 0.5) << ep_run(0, "normal", "", 0.25);
  const EpCommRun run = read_ep_comm_run((dir / "prefill.json").string());
  EXPECT_EQ(run.rank, 0);
  EXPECT_EQ(ep_comm_phase(run), "prefill");
  const auto base = read_base_profile(kBasePath);
  const ProfilePlan plan = plan_profile(base, "base.json", 4096, {run});
  ASSERT_EQ(plan.comm.size(), 2u);
  EXPECT_EQ(find_carried(plan, "prefill", "dispatch"), nullptr);
  ASSERT_NE(find_carried(plan, "decode", "dispatch"), nullptr);
  // The fit: 0.25 us per token at 5 received rows of 7168 + 224 bytes per token.
  const planner::MeasuredComm& d = plan.comm[0].fit;
  EXPECT_EQ(d.op, "dispatch");
  EXPECT_NEAR(d.cost.fixed_us, 40, 1e-6);
  EXPECT_NEAR(d.cost.bytes_per_token, 5 * (7168 + 224), 1e-6);
  EXPECT_NEAR(d.cost.max_gbps, 5 * (7168 + 224) / 0.25 / 1e3, 1e-6);
  EXPECT_NEAR(plan.comm[1].fit.cost.max_gbps, 5 * 2 * 7168 / 0.5 / 1e3, 1e-6);
  EXPECT_NE(d.how.find("8 rank(s) of NVIDIA H200, 24 SMs for NCCL"), std::string::npos) << d.how;
  EXPECT_NE(d.how.find((dir / "prefill.json").string()), std::string::npos) << d.how;

  const auto profile = assemble_profile(base, "base.json", plan, fake_results(plan), "gpu", 132, "cmd");
  const auto& ops = profile["phases"]["prefill"]["ops"];
  EXPECT_EQ(ops["dispatch"]["source"].get<std::string>().rfind("measured: shapejit bench ep (normal) on 8", 0), 0u);
  EXPECT_EQ(profile["phases"]["decode"]["ops"]["dispatch"]["source"].get<std::string>().rfind("carried from base.json: no measured", 0), 0u);
  const planner::CostProfile p = planner::parse_cost_profile(profile.dump(), "assembled");
  EXPECT_NEAR(p.phases[0].dispatch.time_us(4096, 24), 40 + 0.25 * 4096, 1e-6);   // the measured SM count
  // The report lists them as measured, with the points.
  const auto report = profile_report(plan, fake_results(plan), "gpu", 132, "out.json", "base.json", 4096);
  EXPECT_DOUBLE_EQ(report["phases"]["prefill"]["measured"]["combine"]["points"][0][1].get<double>(), 60 + 0.5 * 1024);
  EXPECT_FALSE(report["phases"]["prefill"]["carried"].contains("dispatch"));
  EXPECT_TRUE(report["phases"]["decode"]["carried"].contains("dispatch"));
  std::ostringstream table;
  print_profile_table(table, report);
  EXPECT_NE(table.str().find("prefill  dispatch"), std::string::npos) << table.str();

  // A low-latency run measures decode; a phase named in the run wins over the mode.
  std::ofstream(dir / "decode.json") << ep_run(0, "low-latency", "", 0.1);
  std::ofstream(dir / "named.json") << ep_run(0, "normal", "decode", 0.1);
  EXPECT_EQ(ep_comm_phase(read_ep_comm_run((dir / "decode.json").string())), "decode");
  EXPECT_EQ(ep_comm_phase(read_ep_comm_run((dir / "named.json").string())), "decode");
  EXPECT_EQ(plan_profile(base, "base.json", 4096, {run, read_ep_comm_run((dir / "decode.json").string())}).comm.size(), 4u);
}

TEST(BenchProfilePlan, CommFilesThatCannotBeUsedAreNamed) {
  const fs::path dir = shapejit::testing::fresh_dir("plan-comm-bad");
  const auto base = read_base_profile(kBasePath);
  const std::string missing = (dir / "missing.json").string();
  EXPECT_NE(error_of([&] { read_ep_comm_run(missing); }).find("--comm " + missing + ": cannot be read"), std::string::npos);
  std::ofstream(dir / "profile.json") << base.dump();
  EXPECT_NE(error_of([&] { read_ep_comm_run((dir / "profile.json").string()); }).find("bench ep --json --sweep"),
            std::string::npos);
  std::ofstream(dir / "rank1.json") << ep_run(1, "normal", "", 0.2);
  EXPECT_NE(error_of([&] { read_ep_comm_run((dir / "rank1.json").string()); }).find("no run of rank 0"), std::string::npos);
  std::ofstream(dir / "train.json") << ep_run(0, "normal", "training", 0.2);
  const EpCommRun train = read_ep_comm_run((dir / "train.json").string());
  EXPECT_NE(error_of([&] { plan_profile(base, "base.json", 4096, {train}); }).find("phase 'training'"), std::string::npos);
  std::ofstream(dir / "a.json") << ep_run(0, "normal", "", 0.2);
  const EpCommRun a = read_ep_comm_run((dir / "a.json").string());
  EXPECT_NE(error_of([&] { plan_profile(base, "base.json", 4096, {a, a}); }).find("both measure phase 'prefill'"),
            std::string::npos);
  // One token count (bench ep without --sweep) cannot be fitted.
  EpCommRun one = a;
  one.points.resize(1);
  EXPECT_NE(error_of([&] { plan_profile(base, "base.json", 4096, {one}); }).find("--sweep"), std::string::npos);
}
