#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

TEST(KernelStore, RoundTripsEveryField) {
  const auto dir = fresh_dir("roundtrip");
  KernelStore store(dir / "k.db", quiet());
  ASSERT_TRUE(store.persistent());
  KernelRecord r = record("a1");
  r.ptx = ".version 9.0";
  r.spill_store_bytes = 4;
  r.static_smem_bytes = 1024;
  r.compile_ms = 12.5;
  store.put(r);
  const auto got = store.get("a1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cubin, r.cubin);
  EXPECT_EQ(got->ptx, r.ptx);
  EXPECT_EQ(got->log, r.log);
  EXPECT_EQ(got->spec, r.spec);
  EXPECT_EQ(got->lowered_name, r.lowered_name);
  EXPECT_EQ(got->spill_store_bytes, 4);
  EXPECT_EQ(got->static_smem_bytes, 1024);
  EXPECT_DOUBLE_EQ(got->compile_ms, 12.5);
  EXPECT_FALSE(store.get("missing"));
  const auto c = store.counters();
  EXPECT_EQ(c.hits, 1);
  EXPECT_EQ(c.misses, 1);
  EXPECT_EQ(c.stores, 1);
  EXPECT_NE(store.status().find("(wal)"), std::string::npos) << store.status();
}

TEST(KernelStore, ChecksumMismatchIsAMissAndIsHealedByTheNextPut) {
  const auto dir = fresh_dir("corrupt");
  {
    KernelStore store(dir / "k.db", quiet());
    store.put(record("good"));
    store.put(record("bad"));
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "k.db").c_str(), &db), SQLITE_OK);
  // Flip one byte in the middle of the stored cubin.
  ASSERT_EQ(sqlite3_exec(db, "UPDATE kernels SET cubin = substr(cubin, 1, 500) || x'AB' || substr(cubin, 502) WHERE key = 'bad'",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  KernelStore store(dir / "k.db", quiet());
  EXPECT_EQ(store.verify(false), std::vector<std::string>{"bad"});
  EXPECT_FALSE(store.get("bad"));   // never the damaged kernel
  EXPECT_EQ(store.counters().corrupt, 2);   // once by verify, once by get
  EXPECT_TRUE(store.get("good"));
  store.put(record("bad"));
  ASSERT_TRUE(store.get("bad"));
  EXPECT_EQ(store.get("bad")->cubin, record("bad").cubin);
  EXPECT_TRUE(store.verify(false).empty());
}

TEST(KernelStore, EvictsLeastRecentlyUsedFirst) {
  const auto dir = fresh_dir("lru");
  KernelStore store(dir / "k.db", quiet());
  for (int i = 0; i < 4; ++i) {
    KernelRecord r = record("k" + std::to_string(i), 1000);
    r.last_used = 1000 + i;   // k0 oldest
    store.put(r);
  }
  // Touch k0 via its stamp: it becomes the most recent.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "k.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "UPDATE kernels SET last_used = 5000 WHERE key = 'k0'", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  const long long per = store.list().front().bytes;
  EXPECT_EQ(store.gc(2 * per), 2);
  std::vector<std::string> left;
  for (const auto& r : store.list()) left.push_back(r.key);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"k0", "k3"}));
}

TEST(KernelStore, SizeBoundEvictsAfterInserts) {
  const auto dir = fresh_dir("bound");
  StoreOptions o = quiet();
  o.max_bytes = 3500;
  KernelStore store(dir / "k.db", o);
  for (int i = 0; i < 6; ++i) {
    KernelRecord r = record("b" + std::to_string(i), 1000);
    r.last_used = 100 + i;
    store.put(r);
  }
  EXPECT_LE(store.stats().bytes, 3500);
  EXPECT_TRUE(store.get("b5"));
  EXPECT_FALSE(store.get("b0"));
  EXPECT_GT(store.counters().evictions, 0);
}

TEST(KernelStore, ExportImportRoundTripAndCorruptArtifact) {
  const auto dir = fresh_dir("export");
  KernelStore src(dir / "src.db", quiet());
  for (int i = 0; i < 5; ++i) src.put(record("e" + std::to_string(i)));
  EXPECT_EQ(src.export_to(dir / "artifact.db"), 5);
  KernelStore dst(dir / "dst.db", quiet());
  dst.put(record("e0"));
  ImportResult r = dst.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 4);
  EXPECT_EQ(r.skipped_existing, 1);
  EXPECT_EQ(r.corrupt, 0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(dst.get("e" + std::to_string(i)));
  // A damaged artifact: the bad entry is skipped and counted, the rest imported.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "artifact.db").c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "UPDATE kernels SET cubin = x'00' WHERE key = 'e2'", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  KernelStore fresh(dir / "fresh.db", quiet());
  r = fresh.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 4);
  EXPECT_EQ(r.corrupt, 1);
  EXPECT_FALSE(fresh.get("e2"));
}

TEST(KernelStore, SchemaVersionIsRecordedAndNewerIsRefused) {
  const auto dir = fresh_dir("schema");
  { KernelStore store(dir / "k.db", quiet()); store.put(record("s")); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "k.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), kSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::string why;
  KernelStore store(dir / "k.db", quiet(&why));
  EXPECT_FALSE(store.persistent());
  EXPECT_NE(why.find("schema version 99 is newer"), std::string::npos) << why;
  // Works from memory; the newer file is left alone.
  store.put(record("m"));
  EXPECT_TRUE(store.get("m"));
  KernelStore again(dir / "k.db", quiet());
  EXPECT_FALSE(again.persistent());
}

TEST(KernelStore, ManyProcessesWritingAtOnceLeaveAConsistentDatabase) {
  const auto dir = fresh_dir("procs");
  const auto path = dir / "k.db";
  constexpr int kProcs = 6, kKeys = 40;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      int failures = 0;
      {
        KernelStore store(path, quiet(nullptr, 30000));
        if (!store.persistent()) _exit(3);
        for (int i = 0; i < kKeys; ++i) {
          const std::string key = "key" + std::to_string((i + p * 7) % kKeys);   // overlapping keys
          if (!store.get(key)) store.put(record(key, 2000));
        }
        failures = static_cast<int>(store.counters().bypasses.size());
      }
      _exit(failures ? 4 : 0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  KernelStore store(path, quiet());
  EXPECT_EQ(store.list().size(), static_cast<size_t>(kKeys));
  EXPECT_TRUE(store.verify(false).empty());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  sqlite3_close(db);
}
