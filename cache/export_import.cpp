// KernelStore: export to and import from a portable artifact. The artifact is a new SQLite file
// with the store's own schema (rollback journal, so it is one self-contained file); every kernel
// in it carries its checksum, which import verifies.
#include <unistd.h>

#include "kernel_rows.hpp"
#include "schema.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compile_key.hpp"
#include "store_state.hpp"
#include "tuning_rows.hpp"

namespace shapejit::cache {
namespace fs = std::filesystem;
using detail::StoreState;

namespace {

// Removes a half-written artifact unless released.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  ~TempFile() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove(path_, ec);
    fs::remove(path_.string() + "-journal", ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// The key a lookup would compute for this spec text; empty when this build cannot parse it.
std::string key_of_spec(const StoreOptions& options, const std::string& spec) {
  if (options.key_of_spec) return options.key_of_spec(spec);
  try {
    return jit::compile_key(jit::KernelSpec::parse(spec));
  } catch (const std::exception&) {
    return "";
  }
}

// A file that is not SQLite is bad input, like a SQLite file that is not an export.
SchemaState read_artifact_schema(sqlite3* db, const fs::path& file) {
  try {
    return inspect_schema(db);
  } catch (const SqliteError& e) {
    if (e.primary() != SQLITE_NOTADB) throw;
    fail(Errc::invalid_argument, "cannot import " + file.string() + ": not a shapejit cache export (not a SQLite file)");
  }
}

struct ArtifactContents {
  std::vector<KernelRecord> kernels;   // verified
  std::vector<TuningRecord> tuning;
  std::vector<Profile> profiles;
  std::vector<TuningSession> sessions;
};

}  // namespace

long long KernelStore::export_to(const fs::path& file) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::error_code ec;
  if (fs::is_directory(file, ec)) fail(Errc::invalid_argument, "cannot export to " + file.string() + ": it is a directory");
  if (fs::exists(file, ec) && fs::exists(m.path, ec) && fs::equivalent(file, m.path, ec))
    fail(Errc::invalid_argument, "cannot export the kernel cache onto itself (" + file.string() + ")");

  // Gather first: what the store holds, each kernel verified.
  ArtifactContents out;
  for (const auto& [k, r] : m.memory) out.kernels.push_back(r);
  for (const auto& [k, r] : m.memory_tuning) out.tuning.push_back(r);
  for (const auto& [k, p] : m.memory_profiles) out.profiles.push_back(p);
  for (const auto& [k, t] : m.memory_sessions) out.sessions.push_back(t);
  if (m.db) {
    try {
      Statement s(m.db.get(), std::string("SELECT ") + detail::kKernelColumns + " FROM kernels ORDER BY key");
      while (s.step()) {
        KernelRecord r = detail::read_kernel(s, true);
        if (record_checksum(r) != s.text(detail::kChecksumColumn)) {
          ++m.counters.corrupt;
          m.report_corrupt("entry " + r.key + " (" + r.spec + ") failed its checksum; not exported");
          continue;
        }
        out.kernels.push_back(std::move(r));
      }
      Statement t(m.db.get(), "SELECT " + detail::tuning_columns(m.schema_version) + " FROM tuning_records ORDER BY key");
      while (t.step()) out.tuning.push_back(detail::read_tuning(t));
      Statement p(m.db.get(), std::string("SELECT ") + detail::kProfileColumns + " FROM profiles ORDER BY name");
      while (p.step()) out.profiles.push_back(detail::read_profile(p));
      if (m.schema_version >= 4) {
        Statement t2(m.db.get(), std::string("SELECT ") + detail::kSessionColumns + " FROM tuning_sessions ORDER BY id");
        while (t2.step()) out.sessions.push_back(detail::read_session(t2));
      }
    } catch (const SqliteError& e) {
      m.fail_maintenance("export the cache", e);
    }
  }

  // Write beside the destination and rename, so a failed export leaves no half file behind.
  TempFile temp(file.string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove(temp.path(), ec);
  try {
    DbHandle db = open_database(temp.path().string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
    prepare_schema(db.get(), false);
    WriteTransaction tx(db.get());
    for (const KernelRecord& r : out.kernels) detail::write_kernel(db.get(), r, true);
    for (const TuningRecord& r : out.tuning) detail::write_tuning(db.get(), r, true);
    for (const Profile& p : out.profiles) detail::write_profile(db.get(), p, true);
    for (const TuningSession& t : out.sessions) detail::write_session(db.get(), t, true);
    tx.commit();
  } catch (const SqliteError& e) {
    fail(Errc::io, "cannot write " + temp.path().string() + ": " + e.what());
  }
  fs::rename(temp.path(), file, ec);
  if (ec) fail(Errc::io, "cannot move the export to " + file.string() + ": " + ec.message());
  temp.release();
  return static_cast<long long>(out.kernels.size());
}

ImportResult KernelStore::import_from(const fs::path& file) {
  StoreState& m = *impl_;
  std::lock_guard lock(m.mutex);
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) fail(Errc::io, "cannot import " + file.string() + ": no such file");
  sqlite3* db = m.require_writable("import kernels");

  // Read the whole artifact first; it is opened read-only and never changed.
  ImportResult result;
  ArtifactContents in;
  try {
    DbHandle art = open_database(file.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    sqlite3_busy_timeout(art.get(), m.options.busy_timeout_ms);
    const SchemaState state = read_artifact_schema(art.get(), file);
    if (state.foreign || state.version == 0)
      fail(Errc::invalid_argument, "cannot import " + file.string() + ": not a shapejit cache export" +
                                       (state.detail.empty() ? "" : " (" + state.detail + ")"));
    if (state.too_new)
      fail(Errc::unsupported, "cannot import " + file.string() + ": schema version " + std::to_string(state.version) +
                                  " is newer than this shapejit's " + std::to_string(kSchemaVersion));
    // NOTES: before version 3 a checksum covered only a kernel's content, so a cubin moved into
    // another kernel's row still verified; such a file cannot be checked.
    if (state.version < 3)
      fail(Errc::unsupported, "cannot import " + file.string() + ": written with cache schema version " +
                                  std::to_string(state.version) +
                                  ", whose checksums do not bind a kernel to its key and spec; export it "
                                  "again with this shapejit");
    Statement s(art.get(), std::string("SELECT ") + detail::kKernelColumns + " FROM kernels ORDER BY key");
    while (s.step()) {
      KernelRecord r = detail::read_kernel(s, true);
      if (record_checksum(r) != s.text(detail::kChecksumColumn)) {
        ++result.corrupt;
        m.report_corrupt("import: entry " + r.key + " (" + r.spec + ") in " + file.string() +
                         " failed its checksum; skipped");
        continue;
      }
      // The key is what a lookup computes from the spec; a row under another key would either
      // never be found or, worse, be found for a different kernel.
      if (key_of_spec(m.options, r.spec) != r.key) {
        ++result.wrong_key;
        m.report_corrupt("import: entry " + r.key + " (" + r.spec + ") in " + file.string() +
                         " is not this build's key for its spec (another shapejit or NVRTC, or an altered "
                         "row); skipped");
        continue;
      }
      in.kernels.push_back(std::move(r));
    }
    Statement t(art.get(), "SELECT " + detail::tuning_columns(state.version) + " FROM tuning_records");
    while (t.step()) in.tuning.push_back(detail::read_tuning(t));
    Statement p(art.get(), std::string("SELECT ") + detail::kProfileColumns + " FROM profiles");
    while (p.step()) in.profiles.push_back(detail::read_profile(p));
    if (state.version >= 4) {
      Statement t2(art.get(), std::string("SELECT ") + detail::kSessionColumns + " FROM tuning_sessions");
      while (t2.step()) in.sessions.push_back(detail::read_session(t2));
    }
  } catch (const SqliteError& e) {
    fail(Errc::cache, "cannot read " + file.string() + ": " + e.what());
  }

  // Then add what is new, in one transaction: an import is all or nothing.
  const std::int64_t now = m.now();
  try {
    WriteTransaction tx(db);
    for (KernelRecord& r : in.kernels) {
      r.last_used = now;   // imported to be used: fresh for the LRU
      if (detail::write_kernel(db, r, false))
        ++result.imported;
      else
        ++result.skipped_existing;
    }
    for (const TuningRecord& r : in.tuning) result.tuning_records += detail::write_tuning(db, r, false);
    for (const Profile& p : in.profiles) result.profiles += detail::write_profile(db, p, false);
    for (const TuningSession& t : in.sessions) result.tuning_sessions += detail::write_session(db, t, false);
    tx.commit();
  } catch (const SqliteError& e) {
    m.fail_maintenance("import kernels", e);
  }
  return result;
}

}  // namespace shapejit::cache
