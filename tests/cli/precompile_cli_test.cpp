// End to end through the shapejit executable, as a user runs it.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli_run.hpp"
#include "support/paths.hpp"

namespace fs = std::filesystem;

namespace {

using shapejit::testing::CliRun;
using shapejit::testing::last_json_line;

CliRun run(const std::string& args) { return shapejit::testing::run_cli(args); }
fs::path fresh(const std::string& name) { return shapejit::testing::fresh_dir(name); }

// The quantization kernels of the DeepSeek-V3 set: small, fast to compile.
const char* kManifest = R"({"target": {"arch": "sm_90a", "num_sms": 132}, "kernels": [
  {"op": "quant_fp8", "k": 7168}, {"op": "quant_fp8", "k": 2048}, {"op": "quant_fp8", "k": 1536},
  {"op": "quant_fp8", "k": 512}, {"op": "quant_fp8", "k": 16384}, {"op": "quant_fp8", "k": 18432},
  {"op": "quant_fp8", "k": 4096}]})";

}  // namespace

TEST(PrecompileCli, ColdThenWarmIsAllHits) {
  const fs::path dir = fresh("warm");
  std::ofstream(dir / "m.json") << kManifest;
  const std::string args = "precompile --manifest " + (dir / "m.json").string() + " --cache " +
                           (dir / "k.db").string() + " -j 2 --json";
  const CliRun cold = run(args);
  ASSERT_EQ(cold.exit_code, 0) << cold.out;
  const auto c = last_json_line(cold.out);
  EXPECT_EQ(c["compiled"], 7);
  EXPECT_EQ(c["hits"], 0);
  EXPECT_EQ(c["failed"], 0);
  const CliRun warm = run(args);
  ASSERT_EQ(warm.exit_code, 0) << warm.out;
  const auto w = last_json_line(warm.out);
  EXPECT_EQ(w["compiled"], 0);
  EXPECT_EQ(w["hits"], 7);
  const CliRun ls = run("cache ls --json --cache " + (dir / "k.db").string());
  EXPECT_EQ(nlohmann::json::parse(ls.out).size(), 7u) << ls.out;
  EXPECT_EQ(run("cache verify --cache " + (dir / "k.db").string()).exit_code, 0);
}

TEST(PrecompileCli, SeveralProcessesAtOnceFinishAndAgree) {
  const fs::path dir = fresh("procs");
  std::ofstream(dir / "m.json") << kManifest;
  const std::string args = "precompile --manifest " + (dir / "m.json").string() + " --cache " +
                           (dir / "k.db").string() + " -j 1 --json";
  constexpr int kProcs = 4;
  std::vector<FILE*> pipes;
  for (int i = 0; i < kProcs; ++i)
    pipes.push_back(popen((shapejit::testing::bin_dir() + "/shapejit " + args + " 2>&1").c_str(), "r"));
  for (FILE* p : pipes) {
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = pclose(p);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    const auto j = last_json_line(out);
    EXPECT_EQ(j["failed"], 0) << out;
    EXPECT_EQ(j["compiled"].get<int>() + j["hits"].get<int>(), 7);
  }
  const CliRun verify = run("cache verify --cache " + (dir / "k.db").string());
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_NE(verify.out.find("7 entries checked, 0 corrupt"), std::string::npos) << verify.out;
  const auto warm = last_json_line(run(args).out);
  EXPECT_EQ(warm["hits"], 7);
}

TEST(PrecompileCli, BadManifestIsExitTwoAndLeavesTheCacheAlone) {
  const fs::path dir = fresh("bad");
  std::ofstream(dir / "good.json") << kManifest;
  const std::string db = (dir / "k.db").string();
  ASSERT_EQ(run("precompile --manifest " + (dir / "good.json").string() + " --cache " + db + " --json").exit_code, 0);
  const auto before = fs::file_size(db);
  for (const char* text : {R"({"kernels": [{"op": "quant_fp8", "k": 512}, {"op": "warp_drive"}]})",
                           R"({"kernels": [{"op": "quant_fp8", "k": 100}]})", "{ not json",
                           R"({"kernels": [{"spec": "quant/per_token_group_quant<7168>@sm_90a"}]})"}) {
    std::ofstream(dir / "bad.json") << text;
    const CliRun r = run("precompile --manifest " + (dir / "bad.json").string() + " --cache " + db);
    EXPECT_EQ(r.exit_code, 2) << text << "\n" << r.out;
    EXPECT_NE(r.out.find("bad.json"), std::string::npos) << r.out;
  }
  EXPECT_NE(run("precompile --manifest " + (dir / "bad.json").string() + " --cache " + db).out.find("kernels[0]"),
            std::string::npos);
  EXPECT_EQ(fs::file_size(db), before);
  EXPECT_EQ(run("cache verify --cache " + db).exit_code, 0);
}

TEST(PrecompileCli, CacheVerifyExitsNonZeroOnCorruptionAndRepairs) {
  const fs::path dir = fresh("verify");
  std::ofstream(dir / "m.json") << kManifest;
  const std::string db = (dir / "k.db").string();
  ASSERT_EQ(run("precompile --manifest " + (dir / "m.json").string() + " --cache " + db).exit_code, 0);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE kernels SET cubin = x'00' WHERE rowid = 1", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  const CliRun v = run("cache verify --cache " + db);
  EXPECT_NE(v.out.find("1 corrupt"), std::string::npos) << v.out;
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_EQ(run("cache verify --repair --cache " + db).exit_code, 1);
  EXPECT_EQ(run("cache verify --cache " + db).exit_code, 0);
  // The repaired entry compiles again on the next precompile.
  const auto j = last_json_line(run("precompile --json --manifest " + (dir / "m.json").string() + " --cache " + db).out);
  EXPECT_EQ(j["compiled"], 1);
  EXPECT_EQ(j["hits"], 6);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"info", "precompile", "compile", "cache", "cache ls", "cache gc", "plan", "bench",
                          "bench moe", "bench profile"}) {
    const CliRun r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.exit_code, 0) << sub << "\n" << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, InfoWorksWithoutAGpu) {
  const CliRun r = run("info --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.contains("nvrtc"));
  EXPECT_TRUE(j.contains("cache"));
  // The CLI sits beside the worker, so it is found there.
  if (!std::getenv("SHAPEJIT_COMPILE_WORKER")) {
    ASSERT_TRUE(j["compile_worker"].is_string()) << r.out;
    EXPECT_TRUE(std::filesystem::equivalent(j["compile_worker"].get<std::string>(),
                                            shapejit::testing::bin_dir() + "/shapejit-compile-worker"))
        << r.out;
  }
}

TEST(PrecompileCli, ReadmeManifestExampleCompiles) {
  // The manifest shown in the README stays a valid, compilable example.
  std::ifstream readme(std::string(SHAPEJIT_SOURCE_DIR) + "/README.md");
  const std::string text((std::istreambuf_iterator<char>(readme)), std::istreambuf_iterator<char>());
  const auto begin = text.find("```json\n");
  ASSERT_NE(begin, std::string::npos);
  const auto end = text.find("```", begin + 8);
  const fs::path dir = fresh("readme");
  std::ofstream(dir / "m.json") << text.substr(begin + 8, end - begin - 8);
  const CliRun r = run("precompile --json --manifest " + (dir / "m.json").string() + " --cache " +
                       (dir / "k.db").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = last_json_line(r.out);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_GE(j["compiled"].get<int>(), 10);
}

TEST(PrecompileCli, ListOpsNamesEveryFamily) {
  const CliRun r = run("precompile --list-ops");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* op : {"quant_fp8", "gemm_fp8", "gemm_bf16", "mla_decode", "moe_layer"})
    EXPECT_NE(r.out.find(op), std::string::npos) << op;
}
