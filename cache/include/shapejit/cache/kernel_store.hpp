#pragma once
// The kernel database: one SQLite file holding compiled kernels by cache key, tuning records
// and cost profiles. Every cubin is checksummed and verified on read; a mismatch is a miss,
// never a wrong kernel. When the file cannot be used (unwritable place, locked past the
// timeout, not a database, schema from a newer shapejit) the store says why once and goes on
// in memory; get/put never throw.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shapejit::cache {

inline constexpr int kSchemaVersion = 1;

struct KernelRecord {
  std::string key;            // jit::compile_key
  std::string spec;           // canonical spec text
  std::string family, arch;
  std::string lowered_name;
  std::vector<std::uint8_t> cubin;
  std::string ptx, log;
  int registers = -1, spill_store_bytes = 0, spill_load_bytes = 0, stack_frame_bytes = 0;
  int static_smem_bytes = 0;
  double compile_ms = 0.0;
  std::int64_t created = 0, last_used = 0;   // unix seconds
  std::int64_t bytes = 0;                    // stored size (cubin + PTX + log)
};

struct StoreOptions {
  int busy_timeout_ms = 60000;
  std::int64_t max_bytes = 0;   // > 0: evict least recently used entries after inserts
  // Called once, with the reason, when the store falls back to memory (default: stderr).
  std::function<void(const std::string&)> on_bypass;
};

struct StoreCounters {
  long long hits = 0, misses = 0, stores = 0, evictions = 0, corrupt = 0;
  std::map<std::string, long long> bypasses;   // reason → count
};

struct StoreStats {
  std::string path, journal_mode, status;
  int schema_version = 0;
  long long entries = 0, bytes = 0, file_bytes = 0;
  std::map<std::string, long long> entries_per_family;
  StoreCounters counters;
};

struct ImportResult {
  long long imported = 0, skipped_existing = 0, corrupt = 0;
};

class KernelStore {
 public:
  explicit KernelStore(std::filesystem::path path, StoreOptions options = {});
  ~KernelStore();
  KernelStore(const KernelStore&) = delete;
  KernelStore& operator=(const KernelStore&) = delete;

  bool persistent() const;   // false: working from memory
  std::string status() const;   // "sqlite <path> (wal)" or "memory only: <reason>"
  const std::filesystem::path& path() const;

  std::optional<KernelRecord> get(const std::string& key);
  void put(KernelRecord record);

  std::vector<KernelRecord> list(const std::string& family = "", const std::string& arch = "");   // no blobs
  std::vector<std::string> verify(bool repair);   // keys whose checksum fails; repair deletes them
  long long gc(std::int64_t max_bytes);           // evicts LRU first; returns entries removed
  void clear();
  StoreStats stats();
  StoreCounters counters() const;

  // A portable artifact: a fresh database file holding every (verified) kernel.
  long long export_to(const std::filesystem::path& file);
  ImportResult import_from(const std::filesystem::path& file);

  // Tuning records and cost profiles (JSON text), keyed by name.
  void put_tuning_record(const std::string& key, const std::string& family, const std::string& shape_json,
                         const std::string& config_json, double time_us, const std::string& device);
  std::optional<std::string> tuning_record(const std::string& key);   // config JSON
  void put_profile(const std::string& name, const std::string& json);
  std::optional<std::string> profile(const std::string& name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// XXH3-128 of a record's stored bytes, as 32 hex digits.
std::string record_checksum(const KernelRecord& record);

}  // namespace shapejit::cache
