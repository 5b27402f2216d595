// KernelStore: tuning records and cost profiles. Like kernels, they fall back to memory when
// the file cannot take them, and get/put calls never throw.
#include <algorithm>

#include "shapejit/cache/kernel_store.hpp"
#include "store_state.hpp"
#include "tuning_rows.hpp"

namespace shapejit::cache {
namespace detail {

std::string tuning_columns(const char* family_column) {
  return std::string("key, ") + family_column +
         ", shape_json, config_json, COALESCE(time_us, 0), COALESCE(measured_at, 0), COALESCE(device, '')";
}

TuningRecord read_tuning(const Statement& s) {
  TuningRecord r;
  r.key = s.text(0);
  r.spec_family = s.text(1);
  r.shape_json = s.text(2);
  r.config_json = s.text(3);
  r.time_us = s.real(4);
  r.measured_at = s.integer(5);
  r.device = s.text(6);
  return r;
}

bool write_tuning(sqlite3* db, const TuningRecord& r, bool replace) {
  Statement s(db, std::string(replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") +
                      " INTO tuning_records (key, spec_family, shape_json, config_json, time_us, measured_at, device)"
                      " VALUES (?,?,?,?,?,?,?)");
  s.bind(1, r.key).bind(2, r.spec_family).bind(3, r.shape_json).bind(4, r.config_json).bind(5, r.time_us);
  s.bind(6, r.measured_at).bind(7, r.device).step();
  return sqlite3_changes(db) > 0;
}

Profile read_profile(const Statement& s) { return {s.text(0), s.text(1), s.integer(2)}; }

bool write_profile(sqlite3* db, const Profile& p, bool replace) {
  Statement(db, std::string(replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") +
                    " INTO profiles (name, json, created) VALUES (?,?,?)")
      .bind(1, p.name).bind(2, p.json).bind(3, p.created).step();
  return sqlite3_changes(db) > 0;
}

namespace {

// Runs a write for a put call; on failure degrades and returns false (the caller keeps the
// value in memory).
template <typename F>
bool try_write(StoreState& m, F&& body) {
  if (!m.db || !m.writable) return false;
  try {
    WriteTransaction tx(m.db.get());
    body(m.db.get());
    tx.commit();
    return true;
  } catch (const SqliteError& e) {
    m.degrade(e, true);
    return false;
  }
}

bool matches(const TuningRecord& r, const std::string& family, const std::string& shape, const std::string& device) {
  return (family.empty() || r.spec_family == family) && (shape.empty() || r.shape_json == shape) &&
         (device.empty() || r.device == device);
}

}  // namespace
}  // namespace detail

using detail::StoreState;

void KernelStore::put_tuning(TuningRecord r) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (r.key.empty()) r.key = tuning_key(r.spec_family, r.shape_json, r.config_json, r.device);
  if (!r.measured_at) r.measured_at = m.now();
  if (detail::try_write(m, [&](sqlite3* db) { detail::write_tuning(db, r, true); })) return;
  m.count_bypass();
  m.memory_tuning[r.key] = std::move(r);
}

std::optional<TuningRecord> KernelStore::get_tuning(const std::string& key) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (auto it = m.memory_tuning.find(key); it != m.memory_tuning.end()) return it->second;
  if (!m.db) return std::nullopt;
  try {
    Statement s(m.db.get(), "SELECT " + detail::tuning_columns() + " FROM tuning_records WHERE key = ?");
    s.bind(1, key);
    if (s.step()) return detail::read_tuning(s);
  } catch (const SqliteError& e) {
    m.degrade(e, false);
  }
  return std::nullopt;
}

std::vector<TuningRecord> KernelStore::tuning_records(const std::string& family, const std::string& shape_json,
                                                      const std::string& device) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::vector<TuningRecord> out;
  for (const auto& [k, r] : m.memory_tuning)
    if (detail::matches(r, family, shape_json, device)) out.push_back(r);
  if (m.db) {
    try {
      Statement s(m.db.get(), "SELECT " + detail::tuning_columns() +
                                  " FROM tuning_records WHERE (?1 = '' OR spec_family = ?1)"
                                  " AND (?2 = '' OR shape_json = ?2) AND (?3 = '' OR device = ?3)");
      s.bind(1, family).bind(2, shape_json).bind(3, device);
      while (s.step()) out.push_back(detail::read_tuning(s));
    } catch (const SqliteError& e) {
      m.degrade(e, false);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const TuningRecord& a, const TuningRecord& b) {
    return a.time_us != b.time_us ? a.time_us < b.time_us : a.key < b.key;
  });
  return out;
}

void KernelStore::put_profile(const std::string& name, const std::string& json) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  Profile p{name, json, m.now()};
  if (detail::try_write(m, [&](sqlite3* db) { detail::write_profile(db, p, true); })) return;
  m.count_bypass();
  m.memory_profiles[name] = std::move(p);
}

std::optional<std::string> KernelStore::profile(const std::string& name) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (auto it = m.memory_profiles.find(name); it != m.memory_profiles.end()) return it->second.json;
  if (!m.db) return std::nullopt;
  try {
    Statement s(m.db.get(), "SELECT json FROM profiles WHERE name = ?");
    s.bind(1, name);
    if (s.step()) return s.text(0);
  } catch (const SqliteError& e) {
    m.degrade(e, false);
  }
  return std::nullopt;
}

std::vector<Profile> KernelStore::profiles() {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::map<std::string, Profile> by_name;
  if (m.db) {
    try {
      Statement s(m.db.get(), std::string("SELECT ") + detail::kProfileColumns + " FROM profiles");
      while (s.step()) {
        Profile p = detail::read_profile(s);
        by_name[p.name] = std::move(p);
      }
    } catch (const SqliteError& e) {
      m.degrade(e, false);
    }
  }
  for (const auto& [name, p] : m.memory_profiles) by_name[name] = p;
  std::vector<Profile> out;
  for (auto& [name, p] : by_name) out.push_back(std::move(p));
  return out;
}

}  // namespace shapejit::cache
