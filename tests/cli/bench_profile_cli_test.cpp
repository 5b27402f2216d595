// `shapejit bench profile` and `bench moe --profile` end to end, on a machine with or without a
// GPU: everything up to the GPU check (arguments, base profile, output folder) and the no-GPU
// failure, which must leave the --out file alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_run.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace fs = std::filesystem;
using shapejit::testing::run_cli;

namespace {

const std::string kBase =
    std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/h800_deepseek_v3_single_node_ep8.json";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(BenchProfileCli, WithoutBaseOrOutIsExitTwoNamingTheOption) {
  const fs::path dir = shapejit::testing::fresh_dir("profile-args");
  const std::string out = (dir / "p.json").string();
  const auto no_base = run_cli("bench profile --out " + out);
  EXPECT_EQ(no_base.exit_code, 2) << no_base.out;
  EXPECT_NE(no_base.out.find("--base"), std::string::npos) << no_base.out;
  const auto no_out = run_cli("bench profile --base " + kBase);
  EXPECT_EQ(no_out.exit_code, 2) << no_out.out;
  EXPECT_NE(no_out.out.find("--out"), std::string::npos) << no_out.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST(BenchProfileCli, MissingOrInvalidBaseIsExitTwoNamingTheFile) {
  const fs::path dir = shapejit::testing::fresh_dir("profile-base");
  const std::string out = (dir / "p.json").string();
  std::ofstream(dir / "not_json.json") << "{ not json";
  std::ofstream(dir / "not_a_profile.json") << R"({"device": {"sms": 132}, "phases": {"decode": {"tokens": 128}}})";
  for (const fs::path& base : {dir / "no_such_base.json", dir / "not_json.json", dir / "not_a_profile.json"}) {
    const auto r = run_cli("bench profile --out " + out + " --base " + base.string());
    EXPECT_EQ(r.exit_code, 2) << base << "\n" << r.out;
    EXPECT_NE(r.out.find(base.string()), std::string::npos) << r.out;
  }
  // Where the base is not a profile, the message also says what is wrong in it.
  EXPECT_NE(run_cli("bench profile --out " + out + " --base " + (dir / "not_a_profile.json").string())
                .out.find("phases.decode"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(out));
}

TEST(BenchProfileCli, BadContextItersOrOutFolderIsExitTwoBeforeAnyMeasurement) {
  const fs::path dir = shapejit::testing::fresh_dir("profile-opts");
  const std::string out = (dir / "p.json").string();
  struct Case { std::string args, says; };
  for (const Case& c : {Case{"--context 0", "--context 0"},
                        Case{"--context 200000", "lower --context"},
                        Case{"--iters 0", "--iters 0"}}) {
    const auto r = run_cli("bench profile --out " + out + " --base " + kBase + " " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << r.out;
  }
  const std::string nowhere = (dir / "no_such_folder" / "p.json").string();
  const auto r = run_cli("bench profile --out " + nowhere + " --base " + kBase);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "no_such_folder").string()), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
}

TEST(BenchProfileCli, WithoutAGpuFailsClearlyAndLeavesTheOutFileAlone) {
  std::string why;
  if (shapejit::runtime::driver_available(&why))
    GTEST_SKIP() << "a GPU is present: this checks the no-GPU path (bench/gpu-check.sh runs the bench)";
  const fs::path dir = shapejit::testing::fresh_dir("profile-nogpu");
  const fs::path out = dir / "p.json";
  const auto fresh = run_cli("bench profile --out " + out.string() + " --base " + kBase + " --json");
  EXPECT_EQ(fresh.exit_code, 1) << fresh.out;
  EXPECT_NE(fresh.out.find("shapejit bench profile: needs a CUDA GPU"), std::string::npos) << fresh.out;
  EXPECT_NE(fresh.out.find(out.string() + " not written"), std::string::npos) << fresh.out;
  EXPECT_FALSE(fs::exists(out));
  // An existing file is not overwritten (nor truncated), and no temporary file is left behind.
  std::ofstream(out) << "an earlier profile\n";
  const auto again = run_cli("bench profile --out " + out.string() + " --base " + kBase);
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_EQ(slurp(out), "an earlier profile\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(BenchMoeCli, ProfileNeedsBaseAndAReadableOneBeforeAnyMeasurement) {
  const fs::path dir = shapejit::testing::fresh_dir("moe-profile");
  const std::string out = (dir / "p.json").string();
  const auto no_base = run_cli("bench moe --profile " + out);
  EXPECT_EQ(no_base.exit_code, 2) << no_base.out;
  EXPECT_NE(no_base.out.find("--base"), std::string::npos) << no_base.out;
  const std::string missing = (dir / "missing.json").string();
  const auto bad = run_cli("bench moe --profile " + out + " --base " + missing);
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find(missing), std::string::npos) << bad.out;
  const auto phase = run_cli("bench moe --profile " + out + " --base " + kBase + " --profile-phase warmup");
  EXPECT_EQ(phase.exit_code, 2) << phase.out;
  EXPECT_NE(phase.out.find("warmup"), std::string::npos) << phase.out;
  EXPECT_FALSE(fs::exists(out));
}
