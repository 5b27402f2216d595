#pragma once
// Cross-process single flight for the compiles that fill one kernel database. A process about to
// compile a key takes that key's lease; another process that misses the same key waits for the
// lease, then reads the kernel the holder stored instead of compiling it again.
//
// A lease is an open-file-description lock (fcntl F_OFD_SETLK) on one byte, chosen by the key,
// of `<database>-leases` beside the database. The kernel drops it when the holder releases it,
// closes it or dies, so a killed compiler never blocks anyone; a holder that hangs blocks others
// for at most their wait limit, after which they compile themselves.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace shapejit::cache {

class CompileLease {
 public:
  CompileLease(int fd, bool waited) : fd_(fd), waited_(waited) {}
  ~CompileLease();
  CompileLease(CompileLease&& other) noexcept : fd_(other.fd_), waited_(other.waited_) { other.fd_ = -1; }
  CompileLease& operator=(CompileLease&& other) noexcept;
  CompileLease(const CompileLease&) = delete;
  CompileLease& operator=(const CompileLease&) = delete;

  // Another process held the lease first: the kernel it compiled may be in the database now.
  bool waited() const { return waited_; }

 private:
  int fd_ = -1;
  bool waited_ = false;
};

// The lease for `key` of the database at `database`, waiting up to `max_wait` while another
// process holds it (zero: do not wait). nullopt when no lease can be had: the lease file cannot
// be created or locked (read-only directory, a file system without OFD locks) or the wait ran
// out. Never throws; without a lease the caller simply compiles.
std::optional<CompileLease> acquire_compile_lease(const std::filesystem::path& database, const std::string& key,
                                                  std::chrono::milliseconds max_wait);

// The file that holds the leases of a database.
std::filesystem::path lease_file(const std::filesystem::path& database);

}  // namespace shapejit::cache
