#include "schema.hpp"

#include <utility>
#include <vector>

#include "kernel_rows.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache {
namespace {

// The current layout, created in one go in an empty file.
constexpr const char* kCreateCurrent = R"sql(
CREATE TABLE kernels (
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
CREATE INDEX kernels_last_used ON kernels (last_used);
CREATE INDEX kernels_family ON kernels (family, arch);
CREATE TABLE tuning_records (
  key TEXT PRIMARY KEY,
  spec_family TEXT NOT NULL,
  shape_json TEXT NOT NULL,
  config_json TEXT NOT NULL,
  time_us REAL NOT NULL,
  measured_at INTEGER NOT NULL,
  device TEXT NOT NULL DEFAULT '',
  session TEXT NOT NULL DEFAULT '',
  candidate_key TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'measured',
  reason TEXT NOT NULL DEFAULT '',
  spec TEXT NOT NULL DEFAULT '',
  spread_us REAL NOT NULL DEFAULT 0,
  baseline_us REAL NOT NULL DEFAULT 0,
  throughput REAL NOT NULL DEFAULT 0,
  throughput_unit TEXT NOT NULL DEFAULT '',
  baseline INTEGER NOT NULL DEFAULT 0,
  arch TEXT NOT NULL DEFAULT '',
  num_sms INTEGER NOT NULL DEFAULT 0,
  driver_version INTEGER NOT NULL DEFAULT 0,
  nvrtc_version TEXT NOT NULL DEFAULT '',
  definition_version TEXT NOT NULL DEFAULT '');
CREATE INDEX tuning_lookup ON tuning_records (spec_family, device, shape_json);
CREATE INDEX tuning_by_session ON tuning_records (session);
CREATE INDEX tuning_by_candidate ON tuning_records (candidate_key);
CREATE TABLE tuning_sessions (
  id TEXT PRIMARY KEY,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  state TEXT NOT NULL,
  request_json TEXT NOT NULL,
  device TEXT NOT NULL DEFAULT '',
  summary_json TEXT NOT NULL DEFAULT '{}');
CREATE TABLE profiles (name TEXT PRIMARY KEY, json TEXT NOT NULL, created INTEGER NOT NULL);
)sql";

// Version 1 → 2: version 1 files carry no application id, name the tuning family column
// `family` and lack the lookup indexes.
void migrate_1_to_2(sqlite3* db) {
  exec(db, R"sql(
ALTER TABLE tuning_records RENAME COLUMN family TO spec_family;
CREATE INDEX IF NOT EXISTS kernels_family ON kernels (family, arch);
CREATE INDEX IF NOT EXISTS tuning_lookup ON tuning_records (spec_family, device, shape_json);
)sql");
}

// Version 2 → 3: the checksum now binds each kernel's content to its key, spec, family, arch and
// lowered name. Rows whose content still matches their old checksum are re-verified and given
// the new one; rows that do not are left as they are, so verify reports them and a read removes
// them (they were already corrupt). Nothing else changes.
void migrate_2_to_3(sqlite3* db) {
  std::vector<std::pair<std::string, std::string>> rechecked;   // key, new checksum
  {
    Statement s(db, std::string("SELECT ") + detail::kKernelColumns + " FROM kernels");
    while (s.step()) {
      const KernelRecord r = detail::read_kernel(s, true);
      if (content_checksum_v2(r) == s.text(detail::kChecksumColumn)) rechecked.emplace_back(r.key, record_checksum(r));
    }
  }
  Statement update(db, "UPDATE kernels SET checksum = ?1 WHERE key = ?2");
  for (const auto& [key, checksum] : rechecked) {
    update.bind(1, checksum).bind(2, key);
    update.step();
    update.reset();
  }
}

// Version 3 → 4: tuning records gain the session and outcome columns and the versions they hold
// for; sessions get their table. Every existing row is kept: it reads as a measurement
// ("measured") from no session and with no versions, so the runtime never takes it for a
// winner, and `tune`/`cache` commands still list it.
void migrate_3_to_4(sqlite3* db) {
  // Column by column, so a file that already has some of them (an older layout stamped with
  // an older version) migrates too.
  constexpr const char* kColumns[][2] = {
      {"session", "TEXT NOT NULL DEFAULT ''"},          {"candidate_key", "TEXT NOT NULL DEFAULT ''"},
      {"status", "TEXT NOT NULL DEFAULT 'measured'"},   {"reason", "TEXT NOT NULL DEFAULT ''"},
      {"spec", "TEXT NOT NULL DEFAULT ''"},             {"spread_us", "REAL NOT NULL DEFAULT 0"},
      {"baseline_us", "REAL NOT NULL DEFAULT 0"},       {"throughput", "REAL NOT NULL DEFAULT 0"},
      {"throughput_unit", "TEXT NOT NULL DEFAULT ''"},  {"baseline", "INTEGER NOT NULL DEFAULT 0"},
      {"arch", "TEXT NOT NULL DEFAULT ''"},             {"num_sms", "INTEGER NOT NULL DEFAULT 0"},
      {"driver_version", "INTEGER NOT NULL DEFAULT 0"}, {"nvrtc_version", "TEXT NOT NULL DEFAULT ''"},
      {"definition_version", "TEXT NOT NULL DEFAULT ''"}};
  for (const auto& [name, type] : kColumns) {
    const std::string has = std::string("SELECT COUNT(*) FROM pragma_table_info('tuning_records') WHERE name = '") +
                            name + "'";
    if (query_integer(db, has.c_str()) == 0)
      exec(db, std::string("ALTER TABLE tuning_records ADD COLUMN ") + name + " " + type);
  }
  exec(db, R"sql(
CREATE INDEX IF NOT EXISTS tuning_by_session ON tuning_records (session);
CREATE INDEX IF NOT EXISTS tuning_by_candidate ON tuning_records (candidate_key);
CREATE TABLE IF NOT EXISTS tuning_sessions (
  id TEXT PRIMARY KEY, created INTEGER NOT NULL, updated INTEGER NOT NULL, state TEXT NOT NULL,
  request_json TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', summary_json TEXT NOT NULL DEFAULT '{}');
)sql");
}

// Migrations indexed by the version they start from.
using Migration = void (*)(sqlite3*);
constexpr Migration kMigrations[] = {nullptr, migrate_1_to_2, migrate_2_to_3, migrate_3_to_4};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

// Version 1 predates the application id; recognize it by its kernels table.
bool looks_like_version_1(sqlite3* db) {
  return query_integer(db,
                       "SELECT COUNT(*) FROM pragma_table_info('kernels') "
                       "WHERE name IN ('cubin', 'checksum', 'lowered_name', 'last_used')") == 4 &&
         query_integer(db, "SELECT COUNT(*) FROM pragma_table_info('tuning_records') WHERE name = 'family'") == 1;
}

void stamp(sqlite3* db) {
  exec(db, "PRAGMA application_id = " + std::to_string(kApplicationId));
  exec(db, "PRAGMA user_version = " + std::to_string(kSchemaVersion));
}

}  // namespace

namespace {

SchemaState inspect_in_transaction(sqlite3* db) {
  SchemaState state;
  // Reading the header first: a file that is not SQLite fails here, before anything is written.
  const std::int64_t application_id = query_integer(db, "PRAGMA application_id");
  const std::int64_t user_version = query_integer(db, "PRAGMA user_version");
  const std::int64_t objects = query_integer(db, "SELECT COUNT(*) FROM sqlite_master");
  if (application_id == kApplicationId) {
    state.version = static_cast<int>(user_version);
    state.too_new = state.version > kSchemaVersion;
  } else if (application_id == 0 && user_version == 0 && objects == 0) {
    state.version = 0;   // empty: ours to set up
  } else if (application_id == 0 && user_version == 1 && looks_like_version_1(db)) {
    state.version = 1;
  } else {
    state.foreign = true;
    state.detail = "application_id " + std::to_string(application_id) + ", user_version " +
                   std::to_string(user_version) + ", " + std::to_string(objects) + " schema objects";
  }
  return state;
}

}  // namespace

SchemaState inspect_schema(sqlite3* db) {
  if (!sqlite3_get_autocommit(db)) return inspect_in_transaction(db);
  // NOTES: one read transaction, so the header fields and the table list come from the same
  // snapshot; read one by one, a process creating the file in between makes a fresh file look
  // like somebody else's database.
  exec(db, "BEGIN");
  try {
    SchemaState state = inspect_in_transaction(db);
    exec(db, "COMMIT");
    return state;
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

SchemaState prepare_schema(sqlite3* db, bool read_only) {
  SchemaState state = inspect_schema(db);
  if (state.too_new || state.foreign || state.version == kSchemaVersion || read_only) return state;
  // auto_vacuum only takes effect before the first table is created.
  if (state.version == 0) exec(db, "PRAGMA auto_vacuum = INCREMENTAL");
  WriteTransaction tx(db);
  state = inspect_schema(db);   // another process may have set the file up meanwhile
  if (state.too_new || state.foreign || state.version == kSchemaVersion) return state;
  if (state.version == 0) {
    exec(db, kCreateCurrent);
  } else {
    for (int v = state.version; v < kSchemaVersion; ++v) kMigrations[v](db);
  }
  stamp(db);
  tx.commit();
  state.version = kSchemaVersion;
  return state;
}

}  // namespace shapejit::cache
