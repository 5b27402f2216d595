// KernelStore: kernels in and out, LRU eviction and the maintenance calls over the kernels table.
#include "shapejit/cache/kernel_store.hpp"

#include "kernel_rows.hpp"
#include "shapejit/error.hpp"
#include "store_state.hpp"

namespace shapejit::cache {
namespace fs = std::filesystem;
using detail::StoreState;

namespace {

// Deletes least recently used kernels (ties: oldest, then by key) until the kernels take at
// most max_bytes, never `keep`. Runs inside the caller's write transaction.
long long evict_lru(sqlite3* db, std::int64_t max_bytes, const std::string& keep) {
  std::int64_t total = query_integer(db, "SELECT COALESCE(SUM(bytes), 0) FROM kernels");
  if (total <= max_bytes) return 0;
  std::vector<std::string> victims;
  {
    Statement s(db, "SELECT key, bytes FROM kernels ORDER BY last_used ASC, created ASC, key ASC");
    while (total > max_bytes && s.step()) {
      if (s.text(0) == keep) continue;
      victims.push_back(s.text(0));
      total -= s.integer(1);
    }
  }
  for (const std::string& key : victims) Statement(db, "DELETE FROM kernels WHERE key = ?").bind(1, key).step();
  return static_cast<long long>(victims.size());
}

// Returns freed pages to the file system; skipped when another process holds the lock.
void release_free_pages(sqlite3* db, int restore_timeout_ms) {
  ScopedBusyTimeout no_wait(db, 0, restore_timeout_ms);
  try {
    exec(db, "PRAGMA incremental_vacuum");
  } catch (const SqliteError&) {
  }
}

}  // namespace

KernelStore::KernelStore(fs::path path, StoreOptions options) : impl_(std::make_unique<StoreState>()) {
  impl_->path = std::move(path);
  impl_->options = std::move(options);
  impl_->open();
}

KernelStore::~KernelStore() = default;

bool KernelStore::persistent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->db != nullptr;
}

bool KernelStore::writable() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->db != nullptr && impl_->writable;
}

std::string KernelStore::bypass_reason() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->reason;
}

const fs::path& KernelStore::path() const { return impl_->path; }

bool KernelStore::damaged() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->damaged;
}

std::string KernelStore::status() const {
  const StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (!m.db) return "memory only: " + m.reason_message;
  std::string s = "sqlite " + m.path.string() + " (" + m.journal_mode + ")";
  if (!m.writable) s += ", writes in memory: " + m.reason_message;
  return s;
}

std::optional<KernelRecord> KernelStore::get(const std::string& key) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  // Kernels the file could not take live here.
  if (auto it = m.memory.find(key); it != m.memory.end()) {
    ++m.counters.hits;
    if (!m.db) m.count_bypass();
    it->second.last_used = m.now();
    return it->second;
  }
  if (!m.db) {
    ++m.counters.misses;
    m.count_bypass();
    return std::nullopt;
  }
  std::optional<KernelRecord> found;
  std::string stored_checksum;
  try {
    Statement s(m.db.get(), std::string("SELECT ") + detail::kKernelColumns + " FROM kernels WHERE key = ?");
    s.bind(1, key);
    if (s.step()) {
      found = detail::read_kernel(s, true);
      stored_checksum = s.text(detail::kChecksumColumn);
    }
  } catch (const SqliteError& e) {
    m.degrade(e, false);
    ++m.counters.misses;
    m.count_bypass();
    return std::nullopt;
  }
  if (!found) {
    ++m.counters.misses;
    return std::nullopt;
  }
  if (record_checksum(*found) != stored_checksum) {
    // Never hand out a damaged kernel: drop it; the caller recompiles and stores a good one.
    ++m.counters.corrupt;
    ++m.counters.misses;
    m.report_corrupt("entry " + key + " (" + found->spec + ") failed its checksum; removed, it will be recompiled");
    if (m.writable) {
      try {
        WriteTransaction tx(m.db.get());
        Statement(m.db.get(), "DELETE FROM kernels WHERE key = ?").bind(1, key).step();
        tx.commit();
      } catch (const SqliteError& e) {
        m.degrade(e, true);
      }
    }
    return std::nullopt;
  }
  ++m.counters.hits;
  const std::int64_t now = m.now();
  if (m.writable && now - found->last_used >= m.options.touch_interval_s) {
    // NOTES: the stamp is advisory, so a hit never waits for another process's write lock:
    // when the file is busy the stamp is left for a later hit.
    ScopedBusyTimeout no_wait(m.db.get(), 0, m.options.busy_timeout_ms);
    try {
      WriteTransaction tx(m.db.get());
      Statement(m.db.get(), "UPDATE kernels SET last_used = ? WHERE key = ?").bind(1, now).bind(2, key).step();
      tx.commit();
      found->last_used = now;
    } catch (const SqliteError& e) {
      if (e.primary() != SQLITE_BUSY && e.primary() != SQLITE_LOCKED) m.degrade(e, true);
    }
  }
  return found;
}

void KernelStore::put(KernelRecord r) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  const std::int64_t now = m.now();
  if (!r.created) r.created = now;
  if (!r.last_used) r.last_used = now;
  r.bytes = static_cast<std::int64_t>(r.cubin.size() + r.ptx.size() + r.log.size());
  ++m.counters.stores;
  if (m.db && m.writable) {
    long long evicted = 0;
    try {
      WriteTransaction tx(m.db.get());
      detail::write_kernel(m.db.get(), r, true);
      if (m.options.max_bytes > 0) evicted = evict_lru(m.db.get(), m.options.max_bytes, r.key);
      tx.commit();
      m.counters.evictions += evicted;
      if (evicted) release_free_pages(m.db.get(), m.options.busy_timeout_ms);
      return;
    } catch (const SqliteError& e) {
      m.degrade(e, true);
    }
  }
  m.count_bypass();
  m.remember(std::move(r));
}

bool KernelStore::erase(const std::string& key) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  bool erased = m.memory.erase(key) > 0;
  if (m.db && m.writable) {
    try {
      WriteTransaction tx(m.db.get());
      Statement(m.db.get(), "DELETE FROM kernels WHERE key = ?").bind(1, key).step();
      erased = sqlite3_changes(m.db.get()) > 0 || erased;
      tx.commit();
    } catch (const SqliteError& e) {
      m.degrade(e, true);
    }
  }
  return erased;
}

std::optional<CompileLease> KernelStore::lease(const std::string& key, std::chrono::milliseconds max_wait) {
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->db || !impl_->writable) return std::nullopt;
  }
  // Waiting happens outside the store's mutex: other threads' gets and puts go on meanwhile.
  return acquire_compile_lease(impl_->path, key, max_wait);
}

std::vector<KernelRecord> KernelStore::list(const std::string& family, const std::string& arch) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::vector<KernelRecord> out;
  for (const auto& [k, r] : m.memory) {
    if ((family.empty() || r.family == family) && (arch.empty() || r.arch == arch)) {
      out.push_back(r);
      out.back().cubin.clear();
      out.back().ptx.clear();
      out.back().log.clear();
    }
  }
  if (!m.db) return out;
  try {
    Statement s(m.db.get(), std::string("SELECT ") + detail::kKernelColumns +
                                " FROM kernels WHERE (?1 = '' OR family = ?1) AND (?2 = '' OR arch = ?2)"
                                " ORDER BY family, spec, key");
    s.bind(1, family).bind(2, arch);
    while (s.step()) out.push_back(detail::read_kernel(s, false));
  } catch (const SqliteError& e) {
    m.fail_maintenance("list kernels", e);
  }
  return out;
}

std::vector<std::string> KernelStore::verify(bool repair) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::vector<std::string> bad;
  sqlite3* db = repair ? m.require_writable("repair the cache") : m.require_file("verify the cache");
  try {
    const std::string structure = query_text(db, "PRAGMA quick_check");
    if (structure != "ok") {
      m.damaged = true;
      fail(Errc::cache, "kernel cache " + m.path.string() + " is damaged beyond single entries (" + structure +
                            "); it cannot be repaired in place");
    }
    Statement s(db, std::string("SELECT ") + detail::kKernelColumns + " FROM kernels ORDER BY key");
    while (s.step()) {
      const KernelRecord r = detail::read_kernel(s, true);
      if (record_checksum(r) != s.text(detail::kChecksumColumn)) {
        bad.push_back(r.key);
        m.report_corrupt("entry " + r.key + " (" + r.spec + ") failed its checksum" +
                         (repair ? "; removed" : ""));
      }
    }
    if (repair && !bad.empty()) {
      WriteTransaction tx(db);
      for (const std::string& key : bad) Statement(db, "DELETE FROM kernels WHERE key = ?").bind(1, key).step();
      tx.commit();
    }
  } catch (const SqliteError& e) {
    m.fail_maintenance(repair ? "repair the cache" : "verify the cache", e);
  }
  m.counters.corrupt += static_cast<long long>(bad.size());
  return bad;
}

long long KernelStore::gc(std::int64_t max_bytes) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (max_bytes < 0) fail(Errc::invalid_argument, "cache gc: max_bytes must be >= 0, got " + std::to_string(max_bytes));
  long long removed = 0;
  // Memory first (least recently used out), then the file.
  {
    std::int64_t total = 0;
    for (const auto& [k, r] : m.memory) total += r.bytes;
    while (total > max_bytes && !m.memory.empty()) {
      auto oldest = m.memory.begin();
      for (auto it = m.memory.begin(); it != m.memory.end(); ++it)
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      total -= oldest->second.bytes;
      m.memory.erase(oldest);
      ++removed;
    }
  }
  if (m.db) {
    sqlite3* db = m.require_writable("evict kernels");
    try {
      WriteTransaction tx(db);
      removed += evict_lru(db, max_bytes, "");
      tx.commit();
    } catch (const SqliteError& e) {
      m.fail_maintenance("evict kernels", e);
    }
    release_free_pages(db, m.options.busy_timeout_ms);
  }
  m.counters.evictions += removed;
  return removed;
}

long long KernelStore::clear() {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  long long removed = static_cast<long long>(m.memory.size());
  m.memory.clear();
  if (!m.db) return removed;
  sqlite3* db = m.require_writable("clear the cache");
  try {
    WriteTransaction tx(db);
    exec(db, "DELETE FROM kernels");
    removed += sqlite3_changes(db);
    tx.commit();
  } catch (const SqliteError& e) {
    m.fail_maintenance("clear the cache", e);
  }
  release_free_pages(db, m.options.busy_timeout_ms);
  return removed;
}

StoreCounters KernelStore::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

StoreStats KernelStore::stats() {
  StoreStats st;
  st.status = status();
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  st.path = m.path.string();
  st.persistent = m.db != nullptr;
  st.writable = st.persistent && m.writable;
  st.bypass_reason = m.reason;
  st.journal_mode = m.db ? m.journal_mode : "memory";
  st.schema_version = m.db ? m.schema_version : 0;
  st.counters = m.counters;
  for (const char* suffix : {"", "-wal"}) {
    std::error_code ec;
    const auto size = fs::file_size(m.path.string() + suffix, ec);
    if (!ec) st.file_bytes += static_cast<long long>(size);
  }
  for (const auto& [k, r] : m.memory) {
    ++st.entries;
    st.bytes += r.bytes;
    ++st.entries_per_family[r.family];
    st.bytes_per_family[r.family] += r.bytes;
  }
  st.tuning_records = static_cast<long long>(m.memory_tuning.size());
  st.profiles = static_cast<long long>(m.memory_profiles.size());
  st.tuning_sessions = static_cast<long long>(m.memory_sessions.size());
  if (!m.db) return st;
  try {
    Statement s(m.db.get(), "SELECT family, COUNT(*), COALESCE(SUM(bytes), 0) FROM kernels GROUP BY family");
    while (s.step()) {
      st.entries_per_family[s.text(0)] += s.integer(1);
      st.bytes_per_family[s.text(0)] += s.integer(2);
      st.entries += s.integer(1);
      st.bytes += s.integer(2);
    }
    st.tuning_records += query_integer(m.db.get(), "SELECT COUNT(*) FROM tuning_records");
    st.profiles += query_integer(m.db.get(), "SELECT COUNT(*) FROM profiles");
    if (m.schema_version >= 4) st.tuning_sessions += query_integer(m.db.get(), "SELECT COUNT(*) FROM tuning_sessions");
  } catch (const SqliteError& e) {
    m.fail_maintenance("read cache statistics", e);
  }
  return st;
}

}  // namespace shapejit::cache
