#include "schema.hpp"

#include "shapejit/cache/kernel_store.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache {
namespace {

int user_version(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  return s.step() ? static_cast<int>(s.integer(0)) : 0;
}

constexpr const char* kCreateV1 = R"sql(
CREATE TABLE IF NOT EXISTS kernels (
  key TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  family TEXT NOT NULL,
  arch TEXT NOT NULL,
  lowered_name TEXT NOT NULL,
  cubin BLOB NOT NULL,
  ptx TEXT NOT NULL DEFAULT '',
  log TEXT NOT NULL DEFAULT '',
  registers INTEGER, spill_store_bytes INTEGER, spill_load_bytes INTEGER,
  stack_frame_bytes INTEGER, static_smem_bytes INTEGER,
  compile_ms REAL,
  created INTEGER NOT NULL,
  last_used INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  checksum TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kernels_last_used ON kernels (last_used);
CREATE TABLE IF NOT EXISTS tuning_records (
  key TEXT PRIMARY KEY, family TEXT NOT NULL, shape_json TEXT NOT NULL, config_json TEXT NOT NULL,
  time_us REAL, measured_at INTEGER, device TEXT);
CREATE TABLE IF NOT EXISTS profiles (name TEXT PRIMARY KEY, json TEXT NOT NULL, created INTEGER);
)sql";

}  // namespace

SchemaState prepare_schema(sqlite3* db, bool read_only) {
  SchemaState state;
  state.version = user_version(db);   // reading the header: a non-database fails here
  if (state.version > kSchemaVersion) {
    state.too_new = true;
    return state;
  }
  if (state.version == kSchemaVersion || read_only) return state;
  // auto_vacuum only takes effect before the first table is created.
  exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
  WriteTransaction tx(db);
  state.version = user_version(db);   // another process may have won the race
  if (state.version == 0) {
    exec(db, kCreateV1);
    exec(db, ("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    state.version = kSchemaVersion;
  }
  // Later versions migrate here, one step at a time (v1 → v2 → ...).
  tx.commit();
  return state;
}

}  // namespace shapejit::cache
