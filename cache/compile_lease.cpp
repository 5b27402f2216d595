#include "shapejit/cache/compile_lease.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <thread>

namespace shapejit::cache {
namespace fs = std::filesystem;

namespace {

// One byte per key, spread over 2^47 offsets: two keys share a byte (and so serialize their
// compiles, nothing worse) with negligible odds.
off_t slot_of(const std::string& key) {
  return static_cast<off_t>(XXH3_64bits(key.data(), key.size()) & ((std::uint64_t{1} << 47) - 1));
}

struct flock byte_lock(short type, off_t slot) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = slot;
  l.l_len = 1;
  return l;
}

}  // namespace

CompileLease::~CompileLease() {
  // Closing the last descriptor of the open file description drops its OFD locks.
  if (fd_ >= 0) ::close(fd_);
}

CompileLease& CompileLease::operator=(CompileLease&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    waited_ = other.waited_;
    other.fd_ = -1;
  }
  return *this;
}

fs::path lease_file(const fs::path& database) { return database.string() + "-leases"; }

std::optional<CompileLease> acquire_compile_lease(const fs::path& database, const std::string& key,
                                                  std::chrono::milliseconds max_wait) {
  // A descriptor of its own per lease: OFD locks belong to the open file description, so two
  // threads of one process exclude each other like two processes do.
  const int fd = ::open(lease_file(database).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return std::nullopt;
  const off_t slot = slot_of(key);
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  bool waited = false;
  for (;;) {
    struct flock l = byte_lock(F_WRLCK, slot);
    if (::fcntl(fd, F_OFD_SETLK, &l) == 0) return CompileLease(fd, waited);
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) break;   // no OFD locks here
    if (std::chrono::steady_clock::now() >= deadline) break;
    waited = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  return std::nullopt;
}

}  // namespace shapejit::cache
