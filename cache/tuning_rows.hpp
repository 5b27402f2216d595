#pragma once
// The tuning_records and profiles tables' mapping to TuningRecord and Profile.
#include <sqlite3.h>

#include "shapejit/cache/kernel_record.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache::detail {

// Columns in the order read_tuning() expects; family_column is "spec_family" (schema 2) or
// "family" (schema 1).
std::string tuning_columns(const char* family_column = "spec_family");
TuningRecord read_tuning(const Statement& row);
// replace: INSERT OR REPLACE; else an existing key is kept. Returns whether a row was written.
bool write_tuning(sqlite3* db, const TuningRecord& record, bool replace);

inline constexpr const char* kProfileColumns = "name, json, created";
Profile read_profile(const Statement& row);
bool write_profile(sqlite3* db, const Profile& profile, bool replace);

}  // namespace shapejit::cache::detail
