#pragma once
// What a KernelStore holds: the connection (if any), how far the file can be used, the memory
// fallback and the counters. Shared by the files that implement KernelStore's calls.
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "shapejit/cache/kernel_store.hpp"
#include "sqlite_handles.hpp"

namespace shapejit::cache::detail {

// A SQLite failure translated for users: the short reason (a kReason* constant) and a message.
struct Diagnosis {
  std::string reason;
  std::string message;
};

struct StoreState {
  std::filesystem::path path;
  StoreOptions options;
  mutable std::mutex mutex;

  DbHandle db;                  // null: memory only
  bool writable = false;        // false with db set: reads from the file, writes to memory
  int schema_version = 0;
  std::string journal_mode;
  std::string reason;           // short reason for the current degradation, empty if none
  std::string reason_message;   // the message that was reported for it
  bool damaged = false;         // the file is not a database or has corrupt pages

  // Kernels, tuning records and profiles the file could not take.
  std::map<std::string, KernelRecord> memory;
  std::map<std::string, TuningRecord> memory_tuning;
  std::map<std::string, Profile> memory_profiles;
  std::map<std::string, TuningSession> memory_sessions;
  StoreCounters counters;

  std::int64_t now() const;
  void open();

  Diagnosis diagnose(const SqliteError& e) const;
  // Reads still from the file (if any), writes to memory from now on. Reports once.
  void stop_writes(const Diagnosis& why);
  // Memory only from now on. Reports once.
  void stop_using_file(const Diagnosis& why);
  // A failure under a read or write of get/put/tuning/profile calls: degrades as it deserves.
  void degrade(const SqliteError& e, bool during_write);
  // Counts one get/put that could not use the file.
  void count_bypass() { if (!reason.empty()) ++counters.bypasses[reason]; }

  // Maintenance calls: the file must be open (and writable for writes), else Error(Errc::cache).
  sqlite3* require_file(const char* what) const;
  sqlite3* require_writable(const char* what) const;
  [[noreturn]] void fail_maintenance(const char* what, const SqliteError& e);
  // Remembers that the file itself is damaged (not a database, or corrupt pages).
  void note_damage(const SqliteError& e);

  // Memory fallback: keeps kernels under options.max_bytes, least recently used out first.
  void remember(KernelRecord record);

  void report_corrupt(const std::string& message);
};

}  // namespace shapejit::cache::detail
