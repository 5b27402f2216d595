#include "shapejit/cache/kernel_store.hpp"

#include <sys/vfs.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "schema.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache {
namespace fs = std::filesystem;

namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The last-used stamp is rewritten at most this often, so hits stay reads.
constexpr std::int64_t kLastUsedGranularity = 60;

// WAL needs shared memory between processes on one host; on network file systems fall back
// to a rollback journal.
bool on_network_fs(const fs::path& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return false;
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x6969:       // NFS
    case 0xFF534D42:   // CIFS
    case 0xFE534D42:   // SMB2
    case 0x517B:       // SMB
    case 0x65735546:   // FUSE
      return true;
  }
  return false;
}

constexpr const char* kRecordColumns =
    "key, spec, family, arch, lowered_name, cubin, ptx, log, registers, spill_store_bytes, "
    "spill_load_bytes, stack_frame_bytes, static_smem_bytes, compile_ms, created, last_used, bytes, "
    "checksum";

KernelRecord read_record(const Statement& s, bool with_blobs) {
  KernelRecord r;
  r.key = s.text(0);
  r.spec = s.text(1);
  r.family = s.text(2);
  r.arch = s.text(3);
  r.lowered_name = s.text(4);
  if (with_blobs) {
    r.cubin = s.blob(5);
    r.ptx = s.text(6);
    r.log = s.text(7);
  }
  r.registers = static_cast<int>(s.integer(8));
  r.spill_store_bytes = static_cast<int>(s.integer(9));
  r.spill_load_bytes = static_cast<int>(s.integer(10));
  r.stack_frame_bytes = static_cast<int>(s.integer(11));
  r.static_smem_bytes = static_cast<int>(s.integer(12));
  r.compile_ms = s.real(13);
  r.created = s.integer(14);
  r.last_used = s.integer(15);
  r.bytes = s.integer(16);
  return r;
}

}  // namespace

std::string record_checksum(const KernelRecord& r) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  XXH3_128bits_update(st, r.cubin.data(), r.cubin.size());
  const std::uint64_t sizes[3] = {r.cubin.size(), r.ptx.size(), r.log.size()};
  XXH3_128bits_update(st, sizes, sizeof sizes);
  XXH3_128bits_update(st, r.ptx.data(), r.ptx.size());
  XXH3_128bits_update(st, r.log.data(), r.log.size());
  XXH3_128bits_update(st, r.lowered_name.data(), r.lowered_name.size());
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return hex;
}

struct KernelStore::Impl {
  fs::path path;
  StoreOptions options;
  mutable std::mutex mutex;
  DbHandle db;                 // null: memory only
  bool read_only = false;      // the file serves hits but takes no writes
  std::string journal_mode;
  std::string bypass_reason;   // why the file is not (fully) used
  std::map<std::string, KernelRecord> memory;   // memory-only entries
  StoreCounters counters;

  // Drops to memory, telling the user once.
  void bypass(const std::string& reason) {
    ++counters.bypasses[reason];
    if (!bypass_reason.empty()) return;
    bypass_reason = reason;
    const std::string message =
        "shapejit: kernel cache " + path.string() + " not used (" + reason + "); continuing in memory";
    if (options.on_bypass) options.on_bypass(message);
    else std::cerr << message << "\n";
  }

  void disable(const std::string& reason) {
    db.reset();
    bypass(reason);
  }

  std::string describe(const SqliteError& e) {
    switch (e.code & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED: return "database locked past the " + std::to_string(options.busy_timeout_ms) + " ms timeout";
      case SQLITE_READONLY: return "database read-only";
      case SQLITE_NOTADB: return "file is not a SQLite database (left untouched)";
      case SQLITE_CORRUPT: return "database corrupt: " + e.message;
      case SQLITE_CANTOPEN: return "cannot open database: " + e.message;
      case SQLITE_FULL: return "disk full";
    }
    return e.message;
  }

  void open() {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec && !fs::is_directory(path.parent_path())) {
      bypass("cannot create " + path.parent_path().string() + ": " + ec.message());
      return;
    }
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                           SQLITE_OPEN_NOMUTEX, nullptr);
    db.reset(raw);
    if (rc != SQLITE_OK) {
      disable("cannot open database: " + std::string(sqlite3_errstr(rc)));
      return;
    }
    sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
    sqlite3_extended_result_codes(db.get(), 1);
    try {
      read_only = sqlite3_db_readonly(db.get(), "main") == 1;
      const SchemaState state = prepare_schema(db.get(), read_only);
      if (state.too_new) {
        disable("schema version " + std::to_string(state.version) + " is newer than this shapejit's " +
                std::to_string(kSchemaVersion));
        return;
      }
      if (!read_only) {
        const bool want_wal = !on_network_fs(path.parent_path());
        Statement s(db.get(), want_wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
        journal_mode = s.step() ? s.text(0) : "unknown";
      } else {
        Statement s(db.get(), "PRAGMA journal_mode");
        journal_mode = s.step() ? s.text(0) : "unknown";
        bypass("database read-only");
      }
    } catch (const SqliteError& e) {
      disable(describe(e));
    }
  }

  // Runs a write; on failure degrades (locked/read-only: this write is skipped and counted;
  // anything worse: memory from now on). Returns whether it ran.
  template <typename F>
  bool write(F&& body) {
    if (!db || read_only) return false;
    try {
      WriteTransaction tx(db.get());
      body();
      tx.commit();
      return true;
    } catch (const SqliteError& e) {
      const int code = e.code & 0xff;
      if (code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_READONLY || code == SQLITE_FULL)
        bypass(describe(e));
      else
        disable(describe(e));
      return false;
    }
  }

  void delete_key(const std::string& key) {
    write([&] { Statement(db.get(), "DELETE FROM kernels WHERE key = ?").bind(1, key).step(); });
  }

  long long evict_to(std::int64_t max_bytes) {
    long long removed = 0;
    write([&] {
      std::int64_t total = 0;
      {
        Statement s(db.get(), "SELECT COALESCE(SUM(bytes), 0) FROM kernels");
        if (s.step()) total = s.integer(0);
      }
      std::vector<std::pair<std::string, std::int64_t>> order;
      {
        Statement s(db.get(), "SELECT key, bytes FROM kernels ORDER BY last_used ASC, created ASC, key ASC");
        while (total > max_bytes && s.step()) {
          order.emplace_back(s.text(0), s.integer(1));
          total -= s.integer(1);
        }
      }
      for (auto& [key, bytes] : order) {
        Statement(db.get(), "DELETE FROM kernels WHERE key = ?").bind(1, key).step();
        ++removed;
      }
    });
    if (removed) {
      try {
        exec(db.get(), "PRAGMA incremental_vacuum");
      } catch (const SqliteError&) {
      }
    }
    counters.evictions += removed;
    return removed;
  }
};

KernelStore::KernelStore(fs::path path, StoreOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->options = std::move(options);
  impl_->open();
}

KernelStore::~KernelStore() = default;

bool KernelStore::persistent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->db != nullptr;
}

const fs::path& KernelStore::path() const { return impl_->path; }

std::string KernelStore::status() const {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->db) return "memory only: " + impl_->bypass_reason;
  std::string s = "sqlite " + impl_->path.string() + " (" + impl_->journal_mode + ")";
  if (!impl_->bypass_reason.empty()) s += ", " + impl_->bypass_reason;
  return s;
}

std::optional<KernelRecord> KernelStore::get(const std::string& key) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  // Entries the file could not take (memory mode, read-only or locked writes) live here.
  if (auto it = m.memory.find(key); it != m.memory.end()) {
    ++m.counters.hits;
    return it->second;
  }
  if (!m.db) {
    ++m.counters.misses;
    return std::nullopt;
  }
  std::optional<KernelRecord> found;
  std::string stored_checksum;
  try {
    Statement s(m.db.get(), (std::string("SELECT ") + kRecordColumns + " FROM kernels WHERE key = ?").c_str());
    s.bind(1, key);
    if (s.step()) {
      found = read_record(s, true);
      stored_checksum = s.text(17);
    }
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
    ++m.counters.misses;
    return std::nullopt;
  }
  if (!found) {
    ++m.counters.misses;
    return std::nullopt;
  }
  if (record_checksum(*found) != stored_checksum) {
    // Never hand out a damaged kernel: drop it, the caller recompiles and stores a good one.
    ++m.counters.corrupt;
    ++m.counters.misses;
    std::cerr << "shapejit: kernel cache entry " << key << " (" << found->spec
              << ") failed its checksum; recompiling\n";
    m.delete_key(key);
    return std::nullopt;
  }
  ++m.counters.hits;
  const std::int64_t now = now_seconds();
  if (now - found->last_used >= kLastUsedGranularity) {
    m.write([&] {
      Statement(m.db.get(), "UPDATE kernels SET last_used = ? WHERE key = ?").bind(1, now).bind(2, key).step();
    });
    found->last_used = now;
  }
  return found;
}

void KernelStore::put(KernelRecord r) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  const std::int64_t now = now_seconds();
  if (!r.created) r.created = now;
  if (!r.last_used) r.last_used = now;
  r.bytes = static_cast<std::int64_t>(r.cubin.size() + r.ptx.size() + r.log.size());
  ++m.counters.stores;
  const bool written = m.write([&] {
    Statement s(m.db.get(),
                (std::string("INSERT OR REPLACE INTO kernels (") + kRecordColumns +
                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)").c_str());
    s.bind(1, r.key).bind(2, r.spec).bind(3, r.family).bind(4, r.arch).bind(5, r.lowered_name);
    s.bind_blob(6, r.cubin.data(), r.cubin.size()).bind(7, r.ptx).bind(8, r.log);
    s.bind(9, std::int64_t{r.registers}).bind(10, std::int64_t{r.spill_store_bytes});
    s.bind(11, std::int64_t{r.spill_load_bytes}).bind(12, std::int64_t{r.stack_frame_bytes});
    s.bind(13, std::int64_t{r.static_smem_bytes}).bind(14, r.compile_ms).bind(15, r.created);
    s.bind(16, r.last_used).bind(17, r.bytes).bind(18, record_checksum(r));
    s.step();
  });
  if (!written) {
    m.memory[r.key] = std::move(r);
    return;
  }
  if (m.options.max_bytes > 0) m.evict_to(m.options.max_bytes);
}

std::vector<KernelRecord> KernelStore::list(const std::string& family, const std::string& arch) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::vector<KernelRecord> out;
  if (!m.db) {
    for (auto& [k, r] : m.memory)
      if ((family.empty() || r.family == family) && (arch.empty() || r.arch == arch)) out.push_back(r);
    return out;
  }
  try {
    Statement s(m.db.get(), (std::string("SELECT ") + kRecordColumns +
                             " FROM kernels WHERE (?1 = '' OR family = ?1) AND (?2 = '' OR arch = ?2)"
                             " ORDER BY family, spec").c_str());
    s.bind(1, family).bind(2, arch);
    while (s.step()) out.push_back(read_record(s, false));
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
  }
  return out;
}

std::vector<std::string> KernelStore::verify(bool repair) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::vector<std::string> bad;
  if (!m.db) return bad;
  try {
    Statement s(m.db.get(), (std::string("SELECT ") + kRecordColumns + " FROM kernels").c_str());
    while (s.step())
      if (record_checksum(read_record(s, true)) != s.text(17)) bad.push_back(s.text(0));
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
  }
  m.counters.corrupt += static_cast<long long>(bad.size());
  if (repair)
    for (const auto& k : bad) m.delete_key(k);
  return bad;
}

long long KernelStore::gc(std::int64_t max_bytes) {
  std::lock_guard lock(impl_->mutex);
  return impl_->evict_to(max_bytes);
}

void KernelStore::clear() {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  m.memory.clear();
  m.write([&] { exec(m.db.get(), "DELETE FROM kernels"); });
  if (m.db) {
    try {
      exec(m.db.get(), "PRAGMA incremental_vacuum");
    } catch (const SqliteError&) {
    }
  }
}

StoreCounters KernelStore::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

StoreStats KernelStore::stats() {
  Impl& m = *impl_;
  StoreStats st;
  st.status = status();
  std::lock_guard lock(m.mutex);
  st.path = m.path.string();
  st.journal_mode = m.db ? m.journal_mode : "memory";
  st.schema_version = kSchemaVersion;
  st.counters = m.counters;
  std::error_code ec;
  const auto size = fs::file_size(m.path, ec);
  st.file_bytes = ec ? 0 : static_cast<long long>(size);
  if (!m.db) {
    for (auto& [k, r] : m.memory) {
      ++st.entries;
      st.bytes += r.bytes;
      ++st.entries_per_family[r.family];
    }
    return st;
  }
  try {
    Statement s(m.db.get(), "SELECT family, COUNT(*), COALESCE(SUM(bytes), 0) FROM kernels GROUP BY family");
    while (s.step()) {
      st.entries_per_family[s.text(0)] = s.integer(1);
      st.entries += s.integer(1);
      st.bytes += s.integer(2);
    }
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
  }
  return st;
}

long long KernelStore::export_to(const fs::path& file) {
  std::error_code ec;
  fs::remove(file, ec);
  KernelStore out(file, {.busy_timeout_ms = impl_->options.busy_timeout_ms,
                         .on_bypass = [](const std::string& why) { throw std::runtime_error(why); }});
  long long n = 0;
  for (const KernelRecord& meta : list()) {
    if (auto full = get(meta.key)) {
      out.put(std::move(*full));
      ++n;
    }
  }
  return n;
}

ImportResult KernelStore::import_from(const fs::path& file) {
  if (!fs::exists(file)) throw std::runtime_error("cannot import " + file.string() + ": no such file");
  ImportResult result;
  std::string why;
  KernelStore in(file, {.busy_timeout_ms = impl_->options.busy_timeout_ms,
                        .on_bypass = [&why](const std::string& w) { why = w; }});
  if (!in.persistent()) throw std::runtime_error("cannot import " + file.string() + ": " + why);
  for (const KernelRecord& meta : in.list()) {
    auto full = in.get(meta.key);   // verifies the checksum
    if (!full) {
      ++result.corrupt;
      continue;
    }
    {
      std::lock_guard lock(impl_->mutex);
      if (impl_->db) {
        Statement s(impl_->db.get(), "SELECT 1 FROM kernels WHERE key = ?");
        s.bind(1, full->key);
        if (s.step()) {
          ++result.skipped_existing;
          continue;
        }
      }
    }
    put(std::move(*full));
    ++result.imported;
  }
  return result;
}

void KernelStore::put_tuning_record(const std::string& key, const std::string& family,
                                    const std::string& shape_json, const std::string& config_json,
                                    double time_us, const std::string& device) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  m.write([&] {
    Statement s(m.db.get(),
                "INSERT OR REPLACE INTO tuning_records (key, family, shape_json, config_json, time_us, "
                "measured_at, device) VALUES (?,?,?,?,?,?,?)");
    s.bind(1, key).bind(2, family).bind(3, shape_json).bind(4, config_json).bind(5, time_us);
    s.bind(6, now_seconds()).bind(7, device).step();
  });
}

std::optional<std::string> KernelStore::tuning_record(const std::string& key) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (!m.db) return std::nullopt;
  try {
    Statement s(m.db.get(), "SELECT config_json FROM tuning_records WHERE key = ?");
    s.bind(1, key);
    if (s.step()) return s.text(0);
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
  }
  return std::nullopt;
}

void KernelStore::put_profile(const std::string& name, const std::string& json) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  m.write([&] {
    Statement(m.db.get(), "INSERT OR REPLACE INTO profiles (name, json, created) VALUES (?,?,?)")
        .bind(1, name).bind(2, json).bind(3, now_seconds()).step();
  });
}

std::optional<std::string> KernelStore::profile(const std::string& name) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  if (!m.db) return std::nullopt;
  try {
    Statement s(m.db.get(), "SELECT json FROM profiles WHERE name = ?");
    s.bind(1, name);
    if (s.step()) return s.text(0);
  } catch (const SqliteError& e) {
    m.bypass(m.describe(e));
  }
  return std::nullopt;
}

}  // namespace shapejit::cache
