#include "store_state.hpp"

#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "schema.hpp"
#include "shapejit/error.hpp"

namespace shapejit::cache::detail {
namespace fs = std::filesystem;

namespace {

// WAL needs shared memory between the processes on one host; on network file systems the
// store uses a rollback journal instead.
bool on_network_fs(const fs::path& dir) {
  struct statfs s {};
  if (::statfs(dir.c_str(), &s) != 0) return false;
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x6969:       // NFS
    case 0xFF534D42:   // CIFS
    case 0xFE534D42:   // SMB2
    case 0x517B:       // SMB
    case 0x65735546:   // FUSE (sshfs and friends)
    case 0x01021997:   // 9p
    case 0x0BD00BD0:   // Lustre
    case 0x47504653:   // GPFS
    case 0x00C36400:   // CephFS
      return true;
  }
  return false;
}

fs::path directory_of(const fs::path& path) {
  return path.has_parent_path() ? path.parent_path() : fs::path(".");
}

bool directory_writable(const fs::path& path) { return ::access(directory_of(path).c_str(), W_OK) == 0; }

void to_stderr(const std::string& message) { std::cerr << message << "\n"; }

}  // namespace

std::int64_t StoreState::now() const {
  if (options.clock) return options.clock();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Diagnosis StoreState::diagnose(const SqliteError& e) const {
  switch (e.primary()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {kReasonLocked, "database locked past the " + std::to_string(options.busy_timeout_ms) + " ms timeout"};
    case SQLITE_READONLY:
      if (!directory_writable(path))
        return {kReasonReadOnly, "directory " + directory_of(path).string() +
                                     " is not writable (SQLite keeps its journal and WAL index beside the database)"};
      return {kReasonReadOnly, "database read-only: " + std::string(e.what())};
    case SQLITE_NOTADB:
      return {kReasonCorruptHeader, "file is not a SQLite database (corrupt header; left untouched)"};
    case SQLITE_CORRUPT:
      return {kReasonCorrupt, "database corrupt: " + std::string(e.what()) + " (left untouched)"};
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      if (!directory_writable(path))
        return {kReasonReadOnly, "directory " + directory_of(path).string() +
                                     " is not writable (SQLite keeps its journal and WAL index beside the database)"};
      return {kReasonCannotOpen, "cannot open database: " + std::string(e.what())};
    case SQLITE_FULL:
      return {kReasonDiskFull, "disk full"};
    case SQLITE_IOERR:
      return {kReasonIo, "i/o error: " + std::string(e.what())};
  }
  return {kReasonIo, "database error: " + std::string(e.what())};
}

void StoreState::stop_writes(const Diagnosis& why) {
  if (!db || !writable) return;
  writable = false;
  reason = why.reason;
  reason_message = why.message;
  const std::string message = "shapejit: kernel cache " + path.string() + " not written (" + why.message +
                              "); new kernels are kept in memory";
  (options.on_bypass ? options.on_bypass : to_stderr)(message);
}

void StoreState::stop_using_file(const Diagnosis& why) {
  const bool had_file = db != nullptr || reason.empty();
  db.reset();
  writable = false;
  if (!had_file) return;   // already memory only, already said so
  reason = why.reason;
  reason_message = why.message;
  const std::string message =
      "shapejit: kernel cache " + path.string() + " not used (" + why.message + "); continuing in memory";
  (options.on_bypass ? options.on_bypass : to_stderr)(message);
}

void StoreState::degrade(const SqliteError& e, bool during_write) {
  note_damage(e);
  const Diagnosis why = diagnose(e);
  switch (e.primary()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      // A writer holding the lock past the timeout stalls writes; reads may still go on (WAL).
      if (during_write) return stop_writes(why);
      return stop_using_file(why);
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      if (during_write) return stop_writes(why);
      return stop_using_file(why);
  }
  stop_using_file(why);
}

namespace {

// SQLite URI for a read-only open. immutable=1 reads without the -shm/-wal files a WAL database
// otherwise needs, which read-only storage cannot hold; it assumes nobody writes meanwhile, so it
// is only the fallback (checksums still stand between a torn read and a wrong kernel).
std::string read_only_uri(const fs::path& path, bool immutable) {
  std::string uri = "file:";
  for (const char c : fs::absolute(path).string()) {
    if (c == '%' || c == '?' || c == '#') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      uri += hex;
    } else {
      uri += c;
    }
  }
  return uri + (immutable ? "?immutable=1" : "?mode=ro");
}

}  // namespace

void StoreState::open() {
  const fs::path dir = directory_of(path);
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  // SQLite would put its journal beside whatever the path points at (/dev/null-journal).
  if (exists && !fs::is_regular_file(path, ec)) {
    stop_using_file({kReasonCannotOpen, path.string() + " is not a regular file"});
    return;
  }
  if (!exists && !options.create) {
    stop_using_file({kReasonMissing, "no kernel cache at " + path.string()});
    return;
  }
  fs::create_directories(dir, ec);
  if (ec && !fs::is_directory(dir)) {
    stop_using_file({kReasonCannotOpen, "cannot create directory " + dir.string() + ": " + ec.message()});
    return;
  }
  const bool dir_ok = directory_writable(path);
  if (!exists && !dir_ok) {
    stop_using_file({kReasonReadOnly, "directory " + dir.string() + " is not writable; cannot create the database"});
    return;
  }
  try {
    SchemaState state;
    bool read_only = !dir_ok;
    if (dir_ok) {
      db = open_database(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
      sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
      read_only = sqlite3_db_readonly(db.get(), "main") == 1;
      state = prepare_schema(db.get(), read_only);
    } else {
      // An unwritable directory: SQLite cannot create a journal or a WAL index there, so only read.
      try {
        db = open_database(read_only_uri(path, false), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
        sqlite3_busy_timeout(db.get(), options.busy_timeout_ms);
        state = prepare_schema(db.get(), true);
      } catch (const SqliteError& e) {
        if (e.primary() == SQLITE_NOTADB || e.primary() == SQLITE_CORRUPT) throw;
        db = open_database(read_only_uri(path, true), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX);
        state = prepare_schema(db.get(), true);
      }
    }
    schema_version = state.version;
    if (state.too_new) {
      stop_using_file({kReasonSchemaTooNew, "schema version " + std::to_string(state.version) +
                                                " is newer than this shapejit's " + std::to_string(kSchemaVersion) +
                                                "; the file is left as it is"});
      return;
    }
    if (state.foreign) {
      stop_using_file({kReasonForeign, "a SQLite database that is not a shapejit kernel database (" + state.detail +
                                           "); left untouched"});
      return;
    }
    if (read_only && state.version != kSchemaVersion) {
      stop_using_file({kReasonReadOnly, state.version == 0 ? "database read-only and empty"
                                                           : "database read-only and at schema version " +
                                                                 std::to_string(state.version) +
                                                                 ", which needs a migration"});
      return;
    }
    journal_mode = query_text(db.get(), "PRAGMA journal_mode");
    if (read_only) {
      writable = true;   // so that stop_writes reports
      stop_writes({kReasonReadOnly, dir_ok ? "database read-only; hits are still read from it"
                                           : "directory " + dir.string() +
                                                 " is not writable; hits are still read from the database"});
      return;
    }
    const bool want_wal = options.allow_wal && !on_network_fs(dir);
    if (want_wal != (journal_mode == "wal")) {
      try {
        journal_mode = query_text(db.get(), want_wal ? "PRAGMA journal_mode = WAL" : "PRAGMA journal_mode = DELETE");
      } catch (const SqliteError& e) {
        // Another process holds the file open in the other mode; keep its mode.
        if (e.primary() != SQLITE_BUSY && e.primary() != SQLITE_LOCKED) throw;
        journal_mode = query_text(db.get(), "PRAGMA journal_mode");
      }
    }
    // WAL with synchronous=NORMAL stays consistent on power loss; the last commits may be lost,
    // which for a cache only means a recompile. Checksums catch anything else.
    if (journal_mode == "wal") exec(db.get(), "PRAGMA synchronous = NORMAL");
    writable = true;
  } catch (const SqliteError& e) {
    note_damage(e);
    stop_using_file(diagnose(e));
  }
}

void StoreState::note_damage(const SqliteError& e) {
  if (e.primary() == SQLITE_NOTADB || e.primary() == SQLITE_CORRUPT) damaged = true;
}

sqlite3* StoreState::require_file(const char* what) const {
  if (!db)
    fail(Errc::cache, std::string("cannot ") + what + ": kernel cache " + path.string() + " is not in use (" +
                          reason_message + ")");
  return db.get();
}

sqlite3* StoreState::require_writable(const char* what) const {
  sqlite3* handle = require_file(what);
  if (!writable)
    fail(Errc::cache, std::string("cannot ") + what + ": kernel cache " + path.string() + " is not writable (" +
                          reason_message + ")");
  return handle;
}

void StoreState::fail_maintenance(const char* what, const SqliteError& e) {
  note_damage(e);
  fail(Errc::cache, std::string("cannot ") + what + ": kernel cache " + path.string() + ": " + diagnose(e).message);
}

void StoreState::remember(KernelRecord record) {
  const std::string key = record.key;
  memory[key] = std::move(record);
  if (options.max_bytes <= 0) return;
  std::int64_t total = 0;
  for (const auto& [k, r] : memory) total += r.bytes;
  while (total > options.max_bytes && memory.size() > 1) {
    auto oldest = memory.end();
    for (auto it = memory.begin(); it != memory.end(); ++it)
      if (it->first != key && (oldest == memory.end() || it->second.last_used < oldest->second.last_used))
        oldest = it;
    total -= oldest->second.bytes;
    memory.erase(oldest);
    ++counters.evictions;
  }
}

void StoreState::report_corrupt(const std::string& message) {
  (options.on_corrupt ? options.on_corrupt : to_stderr)("shapejit: kernel cache " + path.string() + ": " + message);
}

}  // namespace shapejit::cache::detail
