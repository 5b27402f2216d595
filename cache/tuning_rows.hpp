#pragma once
// The tuning_records and profiles tables' mapping to TuningRecord and Profile.
#include <sqlite3.h>

#include "shapejit/cache/kernel_record.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache::detail {

// Columns in the order read_tuning() expects, for a file of the given schema version (schema 1
// names the family column `family`; before 4 the session columns read as their defaults).
std::string tuning_columns(int schema_version = kSchemaVersion);
TuningRecord read_tuning(const Statement& row);
// replace: INSERT OR REPLACE; else an existing key is kept. Returns whether a row was written.
bool write_tuning(sqlite3* db, const TuningRecord& record, bool replace);

inline constexpr const char* kSessionColumns = "id, created, updated, state, request_json, device, summary_json";
TuningSession read_session(const Statement& row);
bool write_session(sqlite3* db, const TuningSession& session, bool replace);

inline constexpr const char* kProfileColumns = "name, json, created";
Profile read_profile(const Statement& row);
bool write_profile(sqlite3* db, const Profile& profile, bool replace);

}  // namespace shapejit::cache::detail
