// precompile and compile as a job that must deliver: job counts, exit 3 when the kernels did not
// reach the database, write errors, and one compile per kernel across processes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli_run.hpp"
#include "shapejit/cache/compile_lease.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using shapejit::testing::CliRun;
using shapejit::testing::last_json_line;

CliRun run(const std::string& args) { return shapejit::testing::run_cli(args); }
fs::path fresh(const std::string& name) { return shapejit::testing::fresh_dir(name); }

const char* kTwo = R"({"target": {"arch": "sm_90a", "num_sms": 132}, "kernels": [
  {"op": "quant_fp8", "k": 512}, {"op": "quant_fp8", "k": 1536}]})";

const char* kSeven = R"({"target": {"arch": "sm_90a", "num_sms": 132}, "kernels": [
  {"op": "quant_fp8", "k": 7168}, {"op": "quant_fp8", "k": 2048}, {"op": "quant_fp8", "k": 1536},
  {"op": "quant_fp8", "k": 512}, {"op": "quant_fp8", "k": 16384}, {"op": "quant_fp8", "k": 18432},
  {"op": "quant_fp8", "k": 4096}]})";

std::string manifest(const fs::path& dir, const char* text) {
  std::ofstream(dir / "m.json") << text;
  return (dir / "m.json").string();
}

}  // namespace

TEST(PrecompileJobs, MoreJobsThanKernelsIsFineAndFewerThanOneIsBadInput) {
  const fs::path dir = fresh("jobs");
  const std::string base = "precompile --manifest " + manifest(dir, kTwo) + " --cache " + (dir / "k.db").string();
  const CliRun many = run(base + " -j 100000 --json");
  ASSERT_EQ(many.exit_code, 0) << many.out;
  EXPECT_EQ(last_json_line(many.out)["compiled"], 2);
  for (const char* j : {"0", "-3"}) {
    const CliRun r = run(base + " -j " + j);
    EXPECT_EQ(r.exit_code, 2) << j << "\n" << r.out;
  }
}

TEST(PrecompileStore, KernelsThatCouldNotBeStoredAreExitThree) {
  const fs::path dir = fresh("not-stored");
  const std::string m = manifest(dir, kTwo);
  // A SQLite file that is not ours, one from a newer shapejit, and one that is not SQLite.
  {
    sqlite3* raw = nullptr;
    sqlite3_open((dir / "foreign.db").c_str(), &raw);
    sqlite3_exec(raw, "CREATE TABLE notes (x)", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  ASSERT_EQ(run("precompile --manifest " + m + " --cache " + (dir / "newer.db").string()).exit_code, 0);
  {
    sqlite3* raw = nullptr;
    sqlite3_open((dir / "newer.db").c_str(), &raw);
    sqlite3_exec(raw, "DELETE FROM kernels; PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
  }
  std::ofstream(dir / "text.db") << std::string(4096, 't');
  for (const char* db : {"foreign.db", "newer.db", "text.db"}) {
    const CliRun r = run("precompile --json --manifest " + m + " --cache " + (dir / db).string());
    EXPECT_EQ(r.exit_code, 3) << db << "\n" << r.out;
    EXPECT_NE(r.out.find("are not in the cache database"), std::string::npos) << r.out;
    const auto begin = r.out.find("{\"arch\"");
    ASSERT_NE(begin, std::string::npos) << r.out;
    const auto j = nlohmann::json::parse(r.out.substr(begin, r.out.find('\n', begin) - begin));
    EXPECT_EQ(j["not_stored"], 2) << r.out;
    EXPECT_EQ(j["failed"], 0) << r.out;
    EXPECT_EQ(r.out.find("cache verify --repair") != std::string::npos, std::string(db) == "text.db") << r.out;
  }
}

TEST(PrecompileTarget, AnUnknownArchIsBadInput) {
  const fs::path dir = fresh("bad-arch");
  const CliRun r = run("precompile --model deepseek-v3 --arch sm_bogus --cache " + (dir / "k.db").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("sm_bogus"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "k.db"));
}

TEST(PrecompileTarget, TheSummarySaysWhichTargetWon) {
  const fs::path dir = fresh("target");
  const std::string m = manifest(dir, kTwo);
  const CliRun r = run("precompile --manifest " + m + " --arch sm_90 --num-sms 100 --cache " + (dir / "k.db").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("sm_90a (manifest; --arch sm_90 ignored)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("132 (manifest; --num-sms 100 ignored)"), std::string::npos) << r.out;
  const CliRun j = run("precompile --json --manifest " + m + " --arch sm_90 --cache " + (dir / "k.db").string());
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_EQ(last_json_line(j.out)["target_from"]["arch"], "manifest");
}

TEST(CompileOutput, AWriteErrorFailsTheCommand) {
  const std::string spec = "'quant/per_token_group_quant<512,128,256>@sm_90a'";
  const CliRun file = run("compile " + spec + " --in-process --emit ptx -o /dev/full");
  EXPECT_EQ(file.exit_code, 1) << file.out;
  EXPECT_NE(file.out.find("cannot write /dev/full"), std::string::npos) << file.out;
  const CliRun out = run("compile " + spec + " --in-process --emit ptx >/dev/full");
  EXPECT_EQ(out.exit_code, 1) << out.out;
}

TEST(CompileOutput, JsonReport) {
  const CliRun r = run("compile 'quant/per_token_group_quant<512,128,256>@sm_90a' --in-process --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["key"].get<std::string>().size(), 32u);
  EXPECT_FALSE(j["entry"].get<std::string>().empty());
  EXPECT_GT(j["registers"].get<int>(), 0);
  EXPECT_GT(j["cubin_bytes"].get<int>(), 0);
}

TEST(PrecompileSingleFlight, EightProcessesCompileEachKernelAboutOnce) {
  const fs::path dir = fresh("single-flight");
  const std::string args =
      "precompile --json -j 1 --manifest " + manifest(dir, kSeven) + " --cache " + (dir / "k.db").string();
  constexpr int kProcs = 8;
  std::vector<FILE*> pipes;
  for (int i = 0; i < kProcs; ++i)
    pipes.push_back(popen((shapejit::testing::bin_dir() + "/shapejit " + args + " 2>&1").c_str(), "r"));
  int compiled = 0;
  for (FILE* p : pipes) {
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = pclose(p);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    const auto j = last_json_line(out);
    EXPECT_EQ(j["compiled"].get<int>() + j["hits"].get<int>(), 7) << out;
    compiled += j["compiled"].get<int>();
  }
  EXPECT_LE(compiled, 7 * 11 / 10) << "8 processes, 7 kernels";
  EXPECT_EQ(run("cache verify --cache " + (dir / "k.db").string()).exit_code, 0);
}

TEST(PrecompileSingleFlight, AKilledLeaseHolderDoesNotBlockOthers) {
  const fs::path dir = fresh("killed-holder");
  const fs::path db = dir / "k.db";
  const std::string spec = "quant/per_token_group_quant<512,128,256>@sm_90a";
  const CliRun key_run = run("compile '" + spec + "' --in-process --json");
  ASSERT_EQ(key_run.exit_code, 0) << key_run.out;
  const std::string key = nlohmann::json::parse(key_run.out)["key"];
  std::ofstream(dir / "m.json") << R"({"kernels": [{"spec": ")" << spec << R"("}]})";
  // Another "compiler" holds the key's lease, then dies.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    auto lease = shapejit::cache::acquire_compile_lease(db, key, 0ms);
    const char c = lease ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) _exit(2);
    ::pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  std::thread killer([holder] {
    std::this_thread::sleep_for(1500ms);
    ::kill(holder, SIGKILL);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const CliRun r = run("precompile --json --manifest " + (dir / "m.json").string() + " --cache " + db.string());
  const auto took = std::chrono::steady_clock::now() - t0;
  killer.join();
  ::waitpid(holder, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(last_json_line(r.out)["compiled"], 1);
  EXPECT_GE(took, 1500ms) << "it waited for the holder";
  EXPECT_LT(took, 60s);
}
