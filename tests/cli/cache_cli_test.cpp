// The `cache` commands end to end: recovery from a damaged file, read-only commands that create
// nothing, export/import guards and --json.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "cli_run.hpp"

namespace fs = std::filesystem;

namespace {

using shapejit::testing::CliRun;
using shapejit::testing::last_json_line;

CliRun run(const std::string& args) { return shapejit::testing::run_cli(args); }
fs::path fresh(const std::string& name) { return shapejit::testing::fresh_dir(name); }

// Two small kernels: quick to compile.
const char* kManifest = R"({"target": {"arch": "sm_90a", "num_sms": 132}, "kernels": [
  {"op": "quant_fp8", "k": 512}, {"op": "quant_fp8", "k": 1536}]})";

std::string precompiled(const fs::path& dir) {
  std::ofstream(dir / "m.json") << kManifest;
  const std::string db = (dir / "k.db").string();
  const CliRun r = run("precompile --manifest " + (dir / "m.json").string() + " --cache " + db);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  return db;
}

int sql(const std::string& db, const std::string& statement) {
  sqlite3* raw = nullptr;
  sqlite3_open(db.c_str(), &raw);
  const int rc = sqlite3_exec(raw, statement.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  return rc;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(CacheCli, ADamagedDatabaseTellsWhatToDoAndVerifyRepairMovesItAside) {
  const fs::path dir = fresh("damaged");
  const fs::path db = dir / "k.db";
  const std::string garbage(8192, 'g');
  std::ofstream(db, std::ios::binary) << garbage;
  for (const char* cmd : {"ls", "clear", "gc --max-bytes 0", "verify"}) {
    const CliRun r = run(std::string("cache ") + cmd + " --cache " + db.string());
    EXPECT_EQ(r.exit_code, 1) << cmd << "\n" << r.out;
    EXPECT_NE(r.out.find("cache verify --repair"), std::string::npos) << cmd << "\n" << r.out;
  }
  const CliRun repair = run("cache verify --repair --json --cache " + db.string());
  EXPECT_EQ(repair.exit_code, 1) << repair.out;
  const auto j = last_json_line(repair.out);
  ASSERT_TRUE(j["set_aside"].is_string()) << repair.out;
  const fs::path aside = j["set_aside"].get<std::string>();
  EXPECT_EQ(read_all(aside), garbage) << "the damaged file is kept";
  EXPECT_NE(repair.out.find("moved it to " + aside.string()), std::string::npos) << repair.out;
  const CliRun after = run("cache verify --cache " + db.string());
  EXPECT_EQ(after.exit_code, 0) << after.out;
  EXPECT_EQ(run("cache ls --cache " + db.string()).exit_code, 0);
}

TEST(CacheCli, ReadOnlyCommandsOnAMistypedPathCreateNothing) {
  const fs::path dir = fresh("typo");
  const fs::path db = dir / "no" / "such" / "k.db";
  const CliRun ls = run("cache ls --cache " + db.string());
  EXPECT_EQ(ls.exit_code, 1) << ls.out;
  EXPECT_NE(ls.out.find("no kernel cache at " + db.string()), std::string::npos) << ls.out;
  run("cache stats --cache " + db.string());
  run("cache verify --cache " + db.string());
  EXPECT_EQ(run("cache verify --repair --cache " + db.string()).exit_code, 1);
  run("cache export " + (dir / "out.db").string() + " --cache " + db.string());
  EXPECT_FALSE(fs::exists(dir / "no"));
  EXPECT_FALSE(fs::exists(dir / "out.db"));
}

TEST(CacheCli, ASymlinkToDevNullIsRefusedAndNothingIsCreatedBesideIt) {
  const fs::path dir = fresh("devnull");
  fs::create_symlink("/dev/null", dir / "k.db");
  const CliRun r = run("cache ls --cache " + (dir / "k.db").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not a regular file"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists("/dev/null-journal"));
  EXPECT_FALSE(fs::exists("/dev/null-wal"));
}

TEST(CacheCli, ExportRefusesToReplaceAFileUnlessForced) {
  const fs::path dir = fresh("export-force");
  const std::string db = precompiled(dir);
  std::ofstream(dir / "out.db") << "keep me";
  const CliRun refused = run("cache export " + (dir / "out.db").string() + " --cache " + db);
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(refused.out.find("--force"), std::string::npos) << refused.out;
  EXPECT_EQ(read_all(dir / "out.db"), "keep me");
  const CliRun forced = run("cache export " + (dir / "out.db").string() + " --force --cache " + db);
  EXPECT_EQ(forced.exit_code, 0) << forced.out;
  EXPECT_NE(forced.out.find("exported 2 kernels"), std::string::npos) << forced.out;
}

TEST(CacheCli, ImportOfANonSqliteFileAndOfAForeignDatabaseExitAlike) {
  const fs::path dir = fresh("import-bad");
  std::ofstream(dir / "text.db") << std::string(4096, 'x');
  ASSERT_EQ(sql((dir / "other.db").string(), "CREATE TABLE kernels (x)"), SQLITE_OK);
  const CliRun text = run("cache import " + (dir / "text.db").string() + " --cache " + (dir / "k.db").string());
  const CliRun other = run("cache import " + (dir / "other.db").string() + " --cache " + (dir / "k.db").string());
  EXPECT_EQ(text.exit_code, 2) << text.out;
  EXPECT_EQ(other.exit_code, 2) << other.out;
}

TEST(CacheCli, ImportRejectsARowGivenAnotherKernelsCubinAndVerifyAgrees) {
  // Issue 16: B's cubin, lowered name and checksum copied into A's row of an export.
  const fs::path dir = fresh("import-swap");
  const std::string db = precompiled(dir);
  const std::string art = (dir / "art.db").string();
  ASSERT_EQ(run("cache export " + art + " --cache " + db).exit_code, 0);
  ASSERT_EQ(sql(art, "UPDATE kernels SET (cubin, lowered_name, checksum) = (SELECT cubin, lowered_name, checksum "
                     "FROM kernels WHERE spec LIKE '%<1536,%') WHERE spec LIKE '%<512,%'"),
            SQLITE_OK);
  const CliRun imp = run("cache import " + art + " --json --cache " + (dir / "fresh.db").string());
  EXPECT_EQ(imp.exit_code, 1) << imp.out;
  const auto j = last_json_line(imp.out);
  EXPECT_EQ(j["imported"], 1);
  EXPECT_EQ(j["corrupt"], 1);
  // The same damage in a live database: verify finds it.
  ASSERT_EQ(sql(db, "UPDATE kernels SET (cubin, lowered_name, checksum) = (SELECT cubin, lowered_name, checksum "
                    "FROM kernels WHERE spec LIKE '%<1536,%') WHERE spec LIKE '%<512,%'"),
            SQLITE_OK);
  const CliRun verify = run("cache verify --json --cache " + db);
  EXPECT_EQ(verify.exit_code, 1) << verify.out;
  EXPECT_EQ(last_json_line(verify.out)["corrupt"].size(), 1u) << verify.out;
}

TEST(CacheCli, GcAndImportPrintJson) {
  const fs::path dir = fresh("json");
  const std::string db = precompiled(dir);
  const std::string art = (dir / "art.db").string();
  ASSERT_EQ(run("cache export " + art + " --cache " + db).exit_code, 0);
  const CliRun imp = run("cache import " + art + " --json --cache " + (dir / "other.db").string());
  ASSERT_EQ(imp.exit_code, 0) << imp.out;
  EXPECT_EQ(last_json_line(imp.out)["imported"], 2);
  const CliRun gc = run("cache gc --max-bytes 0 --json --cache " + db);
  ASSERT_EQ(gc.exit_code, 0) << gc.out;
  EXPECT_EQ(last_json_line(gc.out)["evicted"], 2);
  EXPECT_EQ(last_json_line(gc.out)["bytes"], 0);
  const CliRun verify = run("cache verify --json --cache " + db);
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(last_json_line(verify.out)["checked"], 0);
}

TEST(Cli, AnUnknownSubcommandIsNamed) {
  for (const char* args : {"frobnicate", "cache frobnicate", "plan frobnicate"}) {
    const CliRun r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("frobnicate"), std::string::npos) << args << "\n" << r.out;
    EXPECT_EQ(r.out.find("A subcommand is required"), std::string::npos) << args << "\n" << r.out;
  }
}
