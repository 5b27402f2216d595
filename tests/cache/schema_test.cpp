// How a file is set up, recognized, migrated or refused.
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

namespace {

// The first layout (schema version 1), as written by the first release: no application id.
constexpr const char* kVersion1 = R"sql(
PRAGMA auto_vacuum = INCREMENTAL;
CREATE TABLE kernels (
  key TEXT PRIMARY KEY, spec TEXT NOT NULL, family TEXT NOT NULL, arch TEXT NOT NULL,
  lowered_name TEXT NOT NULL, cubin BLOB NOT NULL, ptx TEXT NOT NULL DEFAULT '', log TEXT NOT NULL DEFAULT '',
  registers INTEGER, spill_store_bytes INTEGER, spill_load_bytes INTEGER, stack_frame_bytes INTEGER,
  static_smem_bytes INTEGER, compile_ms REAL, created INTEGER NOT NULL, last_used INTEGER NOT NULL,
  bytes INTEGER NOT NULL, checksum TEXT NOT NULL);
CREATE INDEX kernels_last_used ON kernels (last_used);
CREATE TABLE tuning_records (
  key TEXT PRIMARY KEY, family TEXT NOT NULL, shape_json TEXT NOT NULL, config_json TEXT NOT NULL,
  time_us REAL, measured_at INTEGER, device TEXT);
CREATE TABLE profiles (name TEXT PRIMARY KEY, json TEXT NOT NULL, created INTEGER);
PRAGMA user_version = 1;
)sql";

void insert_v1_kernel(RawDb& raw, const KernelRecord& r) {
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw.get(),
                               "INSERT INTO kernels (key, spec, family, arch, lowered_name, cubin, ptx, log, registers, "
                               "created, last_used, bytes, checksum) VALUES (?,?,?,?,?,?,'',?,?,1,1,?,?)",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, r.key.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, r.spec.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, r.family.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, r.arch.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, r.lowered_name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 6, r.cubin.data(), static_cast<int>(r.cubin.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 7, r.log.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 8, r.registers);
  sqlite3_bind_int64(st, 9, static_cast<sqlite3_int64>(r.cubin.size() + r.log.size()));
  sqlite3_bind_text(st, 10, content_checksum_v2(r).c_str(), -1, SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
}

}  // namespace

TEST(KernelStoreSchema, NewFileIsStampedWithIncrementalAutoVacuumAndWal) {
  const auto dir = fresh_dir("schema-new");
  { KernelStore store(dir / "k.db", quiet()); store.put(record("s")); }
  RawDb raw(dir / "k.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(raw.integer("PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(raw.integer("PRAGMA auto_vacuum"), 2) << "2 = INCREMENTAL";
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  for (const char* table : {"kernels", "tuning_records", "profiles"})
    EXPECT_EQ(raw.integer(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='") + table + "'"),
              1) << table;
}

TEST(KernelStoreSchema, RollbackJournalWhenWalIsNotAllowed) {
  const auto dir = fresh_dir("schema-delete");
  StoreOptions o = quiet();
  o.allow_wal = false;
  KernelStore store(dir / "k.db", o);
  store.put(record("d"));
  EXPECT_EQ(store.stats().journal_mode, "delete");
  EXPECT_TRUE(store.get("d"));
  EXPECT_FALSE(std::filesystem::exists(dir / "k.db-wal"));
}

TEST(KernelStoreSchema, Version1FileIsMigratedKeepingItsKernels) {
  const auto dir = fresh_dir("schema-v1");
  const KernelRecord old = record("old");
  {
    RawDb raw(dir / "k.db");
    ASSERT_EQ(raw.exec(kVersion1), SQLITE_OK);
    insert_v1_kernel(raw, old);
    ASSERT_EQ(raw.exec("INSERT INTO tuning_records VALUES ('t1', 'gemm', '{\"m\":64}', '{\"block_m\":64}', 12.5, 7, 'h100')"),
              SQLITE_OK);
  }
  std::string why;
  KernelStore store(dir / "k.db", quiet(&why));
  ASSERT_TRUE(store.writable()) << why;
  EXPECT_TRUE(why.empty()) << why;
  EXPECT_EQ(store.stats().schema_version, kSchemaVersion);
  const auto got = store.get("old");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cubin, old.cubin);
  const auto t = store.get_tuning("t1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->spec_family, "gemm");
  EXPECT_DOUBLE_EQ(t->time_us, 12.5);
  EXPECT_EQ(store.tuning_records("gemm").size(), 1u);
  RawDb raw(dir / "k.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(raw.integer("PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST(KernelStoreSchema, NewerVersionIsRefusedAndTheStoreWorksFromMemory) {
  const auto dir = fresh_dir("schema-new-version");
  { KernelStore store(dir / "k.db", quiet()); store.put(record("s")); }
  {
    RawDb raw(dir / "k.db");
    ASSERT_EQ(raw.exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  const std::string before = file_bytes(dir / "k.db");
  std::string why;
  KernelStore store(dir / "k.db", quiet(&why));
  EXPECT_FALSE(store.persistent());
  EXPECT_EQ(count_lines(why), 1) << why;
  EXPECT_NE(why.find("schema version 99 is newer"), std::string::npos) << why;
  EXPECT_EQ(store.bypass_reason(), kReasonSchemaTooNew);
  EXPECT_FALSE(store.get("s")) << "nothing is read from a file this build does not understand";
  store.put(record("m"));
  EXPECT_TRUE(store.get("m"));
  EXPECT_GE(store.counters().bypasses.at(kReasonSchemaTooNew), 3);
  EXPECT_EQ(count_lines(why), 1) << why;
  EXPECT_THROW(store.verify(false), shapejit::Error);
  EXPECT_EQ(file_bytes(dir / "k.db"), before) << "the newer file is left alone";
  RawDb raw(dir / "k.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 99);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM kernels"), 1);
}

TEST(KernelStoreSchema, ForeignSqliteDatabaseIsRefusedUntouched) {
  const auto dir = fresh_dir("schema-foreign");
  const auto path = dir / "k.db";
  {
    RawDb raw(path);
    ASSERT_EQ(raw.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('mine')"),
              SQLITE_OK);
  }
  const std::string before = file_bytes(path);
  std::string why;
  KernelStore store(path, quiet(&why));
  EXPECT_FALSE(store.persistent());
  EXPECT_EQ(store.bypass_reason(), kReasonForeign);
  EXPECT_NE(why.find("not a shapejit kernel database"), std::string::npos) << why;
  store.put(record("x"));
  EXPECT_TRUE(store.get("x"));
  EXPECT_EQ(file_bytes(path), before);
  RawDb raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM sqlite_master WHERE name = 'kernels'"), 0);
  EXPECT_EQ(raw.text("SELECT body FROM notes"), "mine");
}

TEST(KernelStoreSchema, EmptyFileIsSetUp) {
  const auto dir = fresh_dir("schema-empty");
  { std::ofstream(dir / "k.db"); }   // zero bytes: an empty SQLite database
  KernelStore store(dir / "k.db", quiet());
  EXPECT_TRUE(store.writable());
  store.put(record("e"));
  EXPECT_TRUE(store.get("e"));
}

TEST(KernelStoreSchema, Version2FileIsMigratedByReverifyingEveryKernel) {
  // A version 2 file: the current tables with content-only checksums. Rows that still match
  // their checksum are kept under the new one; a row that was already damaged stays damaged.
  const auto dir = fresh_dir("schema-v2");
  { KernelStore init(dir / "k.db", quiet()); for (const char* k : {"a", "b", "c"}) init.put(record(k)); }
  {
    RawDb raw(dir / "k.db");
    for (const char* k : {"a", "b", "c"}) {
      sqlite3_stmt* st = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(raw.get(), "UPDATE kernels SET checksum = ? WHERE key = ?", -1, &st, nullptr), SQLITE_OK);
      sqlite3_bind_text(st, 1, content_checksum_v2(record(k)).c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, k, -1, SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
      sqlite3_finalize(st);
    }
    ASSERT_EQ(raw.exec("UPDATE kernels SET cubin = zeroblob(1000) WHERE key = 'c'"), SQLITE_OK);
    ASSERT_EQ(raw.exec("PRAGMA user_version = 2"), SQLITE_OK);
  }
  std::string why;
  KernelStore store(dir / "k.db", quiet(&why));
  ASSERT_TRUE(store.writable()) << why;
  EXPECT_EQ(store.stats().schema_version, kSchemaVersion);
  EXPECT_EQ(store.verify(false), std::vector<std::string>{"c"});
  EXPECT_EQ(store.get("a")->cubin, record("a").cubin);
  EXPECT_EQ(store.get("b")->cubin, record("b").cubin);
  EXPECT_FALSE(store.get("c"));
  RawDb raw(dir / "k.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), kSchemaVersion);
}

namespace {

// The version 3 layout (before tuning sessions), as that release created it.
constexpr const char* kVersion3 = R"sql(
CREATE TABLE kernels (
  key TEXT PRIMARY KEY, spec TEXT NOT NULL, family TEXT NOT NULL, arch TEXT NOT NULL,
  lowered_name TEXT NOT NULL, cubin BLOB NOT NULL, ptx TEXT NOT NULL DEFAULT '', log TEXT NOT NULL DEFAULT '',
  registers INTEGER, spill_store_bytes INTEGER, spill_load_bytes INTEGER, stack_frame_bytes INTEGER,
  static_smem_bytes INTEGER, compile_ms REAL, created INTEGER NOT NULL, last_used INTEGER NOT NULL,
  bytes INTEGER NOT NULL, checksum TEXT NOT NULL);
CREATE INDEX kernels_last_used ON kernels (last_used);
CREATE INDEX kernels_family ON kernels (family, arch);
CREATE TABLE tuning_records (
  key TEXT PRIMARY KEY, spec_family TEXT NOT NULL, shape_json TEXT NOT NULL, config_json TEXT NOT NULL,
  time_us REAL NOT NULL, measured_at INTEGER NOT NULL, device TEXT NOT NULL DEFAULT '');
CREATE INDEX tuning_lookup ON tuning_records (spec_family, device, shape_json);
CREATE TABLE profiles (name TEXT PRIMARY KEY, json TEXT NOT NULL, created INTEGER NOT NULL);
PRAGMA application_id = 1397377364;
PRAGMA user_version = 3;
)sql";

}  // namespace

TEST(KernelStoreSchema, Version3FileIsMigratedKeepingEveryTuningRecord) {
  const auto dir = fresh_dir("schema-v3");
  {
    RawDb raw(dir / "k.db");
    ASSERT_EQ(raw.exec(kVersion3), SQLITE_OK);
    ASSERT_EQ(raw.exec("INSERT INTO tuning_records VALUES ('t1', 'gemm', '{\"m\":64}', '{\"block_m\":64}', 12.5, 7, 'h100');"
                       "INSERT INTO tuning_records VALUES ('t2', 'mla', '{\"b\":1}', '{\"split\":4}', 3.0, 8, 'h800');"
                       "INSERT INTO profiles VALUES ('p', '{}', 9);"),
              SQLITE_OK);
  }
  std::string why;
  KernelStore store(dir / "k.db", quiet(&why));
  ASSERT_TRUE(store.writable()) << why;
  EXPECT_EQ(store.stats().schema_version, 4);
  const auto t1 = store.get_tuning("t1");
  ASSERT_TRUE(t1);
  EXPECT_EQ(t1->spec_family, "gemm");
  EXPECT_DOUBLE_EQ(t1->time_us, 12.5);
  EXPECT_EQ(t1->measured_at, 7);
  EXPECT_EQ(t1->device, "h100");
  EXPECT_EQ(t1->status, kTuningMeasured) << "old rows read as measurements from no session";
  EXPECT_EQ(t1->session, "");
  EXPECT_EQ(t1->definition_version, "") << "no version: never taken for a winner";
  EXPECT_EQ(store.tuning_records("").size(), 2u);
  EXPECT_TRUE(store.profile("p"));
  store.put_tuning_session({"s", 0, 0, "complete", "{}", "", "{}"});
  EXPECT_EQ(store.tuning_sessions().size(), 1u);
  RawDb raw(dir / "k.db");
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 4);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}
