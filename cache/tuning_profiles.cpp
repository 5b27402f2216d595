// KernelStore: tuning records and cost profiles. Like kernels, they fall back to memory when
// the file cannot take them, and get/put calls never throw.
#include <algorithm>

#include "shapejit/cache/kernel_store.hpp"
#include "store_state.hpp"
#include "tuning_rows.hpp"

namespace shapejit::cache {
namespace detail {

std::string tuning_columns(int version) {
  std::string cols = std::string("key, ") + (version == 1 ? "family" : "spec_family") +
                     ", shape_json, config_json, COALESCE(time_us, 0), COALESCE(measured_at, 0), COALESCE(device, '')";
  if (version >= 4)
    return cols + ", session, candidate_key, status, reason, spec, spread_us, baseline_us, throughput, "
                  "throughput_unit, baseline, arch, num_sms, driver_version, nvrtc_version, definition_version";
  return cols + ", '', '', 'measured', '', '', 0.0, 0.0, 0.0, '', 0, '', 0, 0, '', ''";
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
  r.session = s.text(7);
  r.candidate_key = s.text(8);
  r.status = s.text(9);
  r.reason = s.text(10);
  r.spec = s.text(11);
  r.spread_us = s.real(12);
  r.baseline_us = s.real(13);
  r.throughput = s.real(14);
  r.throughput_unit = s.text(15);
  r.baseline = s.integer(16) != 0;
  r.arch = s.text(17);
  r.num_sms = static_cast<int>(s.integer(18));
  r.driver_version = static_cast<int>(s.integer(19));
  r.nvrtc_version = s.text(20);
  r.definition_version = s.text(21);
  return r;
}

bool write_tuning(sqlite3* db, const TuningRecord& r, bool replace) {
  Statement s(db, std::string(replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") +
                      " INTO tuning_records (key, spec_family, shape_json, config_json, time_us, measured_at, device,"
                      " session, candidate_key, status, reason, spec, spread_us, baseline_us, throughput,"
                      " throughput_unit, baseline, arch, num_sms, driver_version, nvrtc_version, definition_version)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.key).bind(2, r.spec_family).bind(3, r.shape_json).bind(4, r.config_json).bind(5, r.time_us);
  s.bind(6, r.measured_at).bind(7, r.device).bind(8, r.session).bind(9, r.candidate_key).bind(10, r.status);
  s.bind(11, r.reason).bind(12, r.spec).bind(13, r.spread_us).bind(14, r.baseline_us).bind(15, r.throughput);
  s.bind(16, r.throughput_unit).bind(17, static_cast<std::int64_t>(r.baseline)).bind(18, r.arch);
  s.bind(19, static_cast<std::int64_t>(r.num_sms)).bind(20, static_cast<std::int64_t>(r.driver_version));
  s.bind(21, r.nvrtc_version).bind(22, r.definition_version).step();
  return sqlite3_changes(db) > 0;
}

TuningSession read_session(const Statement& s) {
  return {s.text(0), s.integer(1), s.integer(2), s.text(3), s.text(4), s.text(5), s.text(6)};
}

bool write_session(sqlite3* db, const TuningSession& t, bool replace) {
  Statement s(db, std::string(replace ? "INSERT OR REPLACE" : "INSERT OR IGNORE") +
                      " INTO tuning_sessions (" + kSessionColumns + ") VALUES (?,?,?,?,?,?,?)");
  s.bind(1, t.id).bind(2, t.created).bind(3, t.updated).bind(4, t.state).bind(5, t.request_json);
  s.bind(6, t.device).bind(7, t.summary_json).step();
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

bool matches(const TuningRecord& r, const TuningQuery& q) {
  auto ok = [](const std::string& want, const std::string& have) { return want.empty() || want == have; };
  return ok(q.spec_family, r.spec_family) && ok(q.shape_json, r.shape_json) && ok(q.device, r.device) &&
         ok(q.session, r.session) && ok(q.candidate_key, r.candidate_key) && ok(q.status, r.status);
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
    Statement s(m.db.get(), "SELECT " + detail::tuning_columns(m.schema_version) + " FROM tuning_records WHERE key = ?");
    s.bind(1, key);
    if (s.step()) return detail::read_tuning(s);
  } catch (const SqliteError& e) {
    m.degrade(e, false);
  }
  return std::nullopt;
}

std::vector<TuningRecord> KernelStore::tuning_records(const std::string& family, const std::string& shape_json,
                                                      const std::string& device) {
  TuningQuery q;
  q.spec_family = family;
  q.shape_json = shape_json;
  q.device = device;
  return tuning_records(q);
}

std::vector<TuningRecord> KernelStore::tuning_records(const TuningQuery& q) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::map<std::string, TuningRecord> by_key;
  if (m.db) {
    try {
      // NOTES: a file of an older schema opened read-only has not been migrated: read its
      // columns as they are and filter here.
      const bool current = m.schema_version >= 4;
      Statement s(m.db.get(), "SELECT " + detail::tuning_columns(m.schema_version) + " FROM tuning_records" +
                                  (current ? " WHERE (?1 = '' OR spec_family = ?1)"
                                             " AND (?2 = '' OR shape_json = ?2) AND (?3 = '' OR device = ?3)"
                                             " AND (?4 = '' OR session = ?4) AND (?5 = '' OR candidate_key = ?5)"
                                             " AND (?6 = '' OR status = ?6)"
                                           : ""));
      if (current) {
        s.bind(1, q.spec_family).bind(2, q.shape_json).bind(3, q.device).bind(4, q.session);
        s.bind(5, q.candidate_key).bind(6, q.status);
      }
      while (s.step()) {
        TuningRecord r = detail::read_tuning(s);
        if (detail::matches(r, q)) by_key[r.key] = std::move(r);
      }
    } catch (const SqliteError& e) {
      m.degrade(e, false);
    }
  }
  // What the file could not take is newer than the file's copy.
  for (const auto& [k, r] : m.memory_tuning)
    if (detail::matches(r, q)) by_key[k] = r;
  std::vector<TuningRecord> out;
  for (auto& [k, r] : by_key) out.push_back(std::move(r));
  std::stable_sort(out.begin(), out.end(), [](const TuningRecord& a, const TuningRecord& b) {
    return a.time_us != b.time_us ? a.time_us < b.time_us : a.key < b.key;
  });
  return out;
}

void KernelStore::put_tuning_session(TuningSession t) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  const std::int64_t now = m.now();
  if (!t.created) t.created = now;
  if (!t.updated) t.updated = now;
  if (detail::try_write(m, [&](sqlite3* db) { detail::write_session(db, t, true); })) return;
  m.count_bypass();
  m.memory_sessions[t.id] = std::move(t);
}

std::optional<TuningSession> KernelStore::tuning_session(const std::string& id) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (auto it = m.memory_sessions.find(id); it != m.memory_sessions.end()) return it->second;
  if (!m.db || m.schema_version < 4) return std::nullopt;
  try {
    Statement s(m.db.get(), std::string("SELECT ") + detail::kSessionColumns + " FROM tuning_sessions WHERE id = ?");
    s.bind(1, id);
    if (s.step()) return detail::read_session(s);
  } catch (const SqliteError& e) {
    m.degrade(e, false);
  }
  return std::nullopt;
}

std::vector<TuningSession> KernelStore::tuning_sessions() {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::map<std::string, TuningSession> by_id;
  if (m.db && m.schema_version >= 4) {
    try {
      Statement s(m.db.get(), std::string("SELECT ") + detail::kSessionColumns + " FROM tuning_sessions");
      while (s.step()) {
        TuningSession t = detail::read_session(s);
        by_id[t.id] = std::move(t);
      }
    } catch (const SqliteError& e) {
      m.degrade(e, false);
    }
  }
  for (const auto& [id, t] : m.memory_sessions) by_id[id] = t;
  std::vector<TuningSession> out;
  for (auto& [id, t] : by_id) out.push_back(std::move(t));
  std::stable_sort(out.begin(), out.end(), [](const TuningSession& a, const TuningSession& b) {
    return a.created < b.created;
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
