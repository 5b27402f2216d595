#pragma once
// The kernel database: one SQLite file holding compiled kernels by cache key, tuning records
// and cost profiles. Every cubin is checksummed and verified on read; a mismatch is a miss,
// never a wrong kernel.
//
// The store never takes its host down. When the file cannot be used it says why once (through
// StoreOptions::on_bypass) and carries on:
//   - read-only file or directory, writes locked past the busy timeout, disk full: hits are
//     still read from the file when it can be read; new kernels are kept in memory;
//   - cannot open or create, not a database, damaged, written by a newer shapejit, or a SQLite
//     file that is not a shapejit database: memory only, and the file is left untouched.
// get/put never throw. The maintenance calls (list, verify, gc, clear, export, import, stats)
// throw shapejit::Error(Errc::cache) when the file fails under them.
//
// One instance may be used from many threads (calls are serialized). Many processes may use
// the same file at once: writes take the lock up front (BEGIN IMMEDIATE) and wait up to the
// busy timeout. Do not carry an open store across fork(); open it in the child.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shapejit/cache/compile_lease.hpp"
#include "shapejit/cache/kernel_record.hpp"

namespace shapejit::cache {

namespace detail {
struct StoreState;
}

// Version of the tables; stored in the file (PRAGMA user_version). Older files are migrated,
// newer ones refused. History: 1 = first layout; 2 = application id, tuning_records.spec_family,
// lookup indexes; 3 = kernel checksums cover the key, spec, family, arch and lowered name;
// 4 = tuning records carry their session, status, reason, spread, throughput and the device,
// driver, NVRTC and definition versions they hold for; the tuning_sessions table.
inline constexpr int kSchemaVersion = 4;
// PRAGMA application_id of every shapejit database ("SJIT"): a file without it is not ours.
inline constexpr std::int32_t kApplicationId = 0x534A4954;

struct StoreOptions {
  int busy_timeout_ms = 60000;
  std::int64_t max_bytes = 0;   // > 0: evict least recently used entries after inserts
  // Called once per degradation, with the reason (default: a line on stderr).
  std::function<void(const std::string&)> on_bypass = nullptr;
  // Called for every corrupt entry found (default: a line on stderr).
  std::function<void(const std::string&)> on_corrupt = nullptr;
  // Unix seconds; tests replace it to age entries.
  std::function<std::int64_t()> clock = nullptr;
  // The last-used stamp of a hit is rewritten only when older than this.
  std::int64_t touch_interval_s = 60;
  // false: always a rollback journal. WAL is also skipped on network file systems.
  bool allow_wal = true;
  // The cache key of a spec text under this build; import keeps a row only when its key is the
  // key of its spec. Default: jit::compile_key of the parsed spec (tests replace it).
  std::function<std::string(const std::string& spec)> key_of_spec = nullptr;
  // false: a missing file is not created, nor its folders (for commands that only read).
  bool create = true;
};

// Short reasons, used as the keys of StoreCounters::bypasses.
inline constexpr const char* kReasonReadOnly = "database read-only";
inline constexpr const char* kReasonLocked = "locked past timeout";
inline constexpr const char* kReasonCorruptHeader = "corrupt header";
inline constexpr const char* kReasonCorrupt = "database corrupt";
inline constexpr const char* kReasonSchemaTooNew = "schema too new";
inline constexpr const char* kReasonForeign = "not a shapejit database";
inline constexpr const char* kReasonCannotOpen = "cannot open";
inline constexpr const char* kReasonDiskFull = "disk full";
inline constexpr const char* kReasonIo = "i/o error";
inline constexpr const char* kReasonMissing = "no database";   // StoreOptions::create = false

struct StoreCounters {
  long long hits = 0, misses = 0, stores = 0, evictions = 0, corrupt = 0;
  std::map<std::string, long long> bypasses;   // reason → gets/puts that could not use the file
};

struct StoreStats {
  std::string path, journal_mode, status;
  int schema_version = 0;                        // of the file; 0 when not opened
  long long entries = 0, bytes = 0, file_bytes = 0;   // file_bytes: database + WAL
  std::map<std::string, long long> entries_per_family;
  StoreCounters counters;
  bool persistent = false, writable = false;
  std::string bypass_reason;                     // short reason, empty when fully working
  std::map<std::string, long long> bytes_per_family;
  long long tuning_records = 0, profiles = 0;
  long long tuning_sessions = 0;
};

// Which tuning records to read; empty fields match everything.
struct TuningQuery {
  std::string spec_family{}, shape_json{}, device{}, session{}, candidate_key{}, status{};
};

struct ImportResult {
  long long imported = 0, skipped_existing = 0, corrupt = 0;
  // Rows whose key is not this build's key for their spec: exported by another shapejit or
  // NVRTC (they could never be looked up here) or altered. Skipped.
  long long wrong_key = 0;
  long long tuning_records = 0, profiles = 0;   // added (existing ones are kept)
  long long tuning_sessions = 0;
};

class KernelStore {
 public:
  explicit KernelStore(std::filesystem::path path, StoreOptions options = {});
  ~KernelStore();
  KernelStore(const KernelStore&) = delete;
  KernelStore& operator=(const KernelStore&) = delete;

  bool persistent() const;   // false: working from memory only
  bool writable() const;     // true: new kernels go to the file
  std::string status() const;   // "sqlite <path> (wal)", "..., writes in memory: <why>" or "memory only: <why>"
  std::string bypass_reason() const;   // short reason (kReason*), empty when fully working
  const std::filesystem::path& path() const;
  // The file is not a SQLite database or has damaged pages (found when opening it or by a call
  // since): nothing short of moving it aside (set_aside_database) makes it usable again.
  bool damaged() const;

  // Kernels. get verifies the checksum: a damaged entry is reported, deleted and returned as a miss.
  std::optional<KernelRecord> get(const std::string& key);
  void put(KernelRecord record);
  bool erase(const std::string& key);   // false: not present
  // Cross-process single flight (see compile_lease.hpp): the lease to compile `key` into this
  // database, waiting up to max_wait while another process holds it. nullopt when the file is
  // not written (the kernel could not be shared anyway) or no lease could be had.
  std::optional<CompileLease> lease(const std::string& key, std::chrono::milliseconds max_wait);

  // Maintenance (throw Error(Errc::cache) when the file fails; writes need writable()).
  std::vector<KernelRecord> list(const std::string& family = "", const std::string& arch = "");   // no blobs
  std::vector<std::string> verify(bool repair);   // keys whose checksum fails; repair deletes them.
                                                  // Structural damage (quick_check) throws.
  long long gc(std::int64_t max_bytes);           // evicts LRU first; returns entries removed
  long long clear();                              // every kernel; returns entries removed
  StoreStats stats();
  StoreCounters counters() const;

  // A portable artifact: a new single-file SQLite database holding every verified kernel, tuning
  // record and profile; written beside `file` and renamed over it. Returns kernels written.
  long long export_to(const std::filesystem::path& file);
  // Opens an artifact read-only and adds what is new, in one transaction. A kernel is taken only
  // when its checksum (which covers key, spec and content) verifies and its key is this build's
  // key for its spec; others are skipped and counted. Files older than schema version 3, not
  // SQLite or not ours are refused.
  ImportResult import_from(const std::filesystem::path& file);

  // Tuning records: one API, addressed by the record's key (computed by tuning_key when the
  // record's key is empty, or the caller's own).
  void put_tuning(TuningRecord record);
  std::optional<TuningRecord> get_tuning(const std::string& key);
  // Filters are ignored when empty; fastest first.
  std::vector<TuningRecord> tuning_records(const std::string& spec_family = "", const std::string& shape_json = "",
                                           const std::string& device = "");
  std::vector<TuningRecord> tuning_records(const TuningQuery& query);   // fastest first
  // Tuning sessions, by id (put replaces).
  void put_tuning_session(TuningSession session);
  std::optional<TuningSession> tuning_session(const std::string& id);
  std::vector<TuningSession> tuning_sessions();   // oldest first

  // Cost profiles (JSON text), by name.
  void put_profile(const std::string& name, const std::string& json);
  std::optional<std::string> profile(const std::string& name);
  std::vector<Profile> profiles();   // sorted by name

 private:
  std::unique_ptr<detail::StoreState> impl_;
};

}  // namespace shapejit::cache
