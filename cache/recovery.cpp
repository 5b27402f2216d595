#include "shapejit/cache/recovery.hpp"

#include <ctime>

#include "shapejit/error.hpp"

namespace shapejit::cache {
namespace fs = std::filesystem;

namespace {

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y%m%dT%H%M%SZ", &tm);
  return out;
}

}  // namespace

fs::path set_aside_database(const fs::path& path) {
  std::error_code ec;
  fs::path target = path.string() + ".unusable-" + utc_stamp();
  for (int n = 2; fs::exists(target, ec) || fs::exists(target.string() + "-wal", ec); ++n)
    target = path.string() + ".unusable-" + utc_stamp() + "-" + std::to_string(n);
  // The database last: while its side files move, a new opener still finds the old file.
  for (const char* suffix : {"-wal", "-shm", "-journal", ""}) {
    const fs::path from = path.string() + suffix;
    if (!fs::exists(fs::symlink_status(from, ec))) continue;
    fs::rename(from, target.string() + suffix, ec);
    if (ec) fail(Errc::io, "cannot move " + from.string() + " aside: " + ec.message());
  }
  return target;
}

}  // namespace shapejit::cache
