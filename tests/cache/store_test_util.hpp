#pragma once
#include <grp.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>

#include "shapejit/cache/kernel_store.hpp"

namespace shapejit::cache::testing {

inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("shapejit-cache-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  return dir;
}

// A kernel with a cubin of pseudo-random bytes that depend on the key (never all zeros), so
// two keys never share contents and a re-put can be compared with the original.
inline KernelRecord record(const std::string& key, std::size_t size = 1000, const std::string& family = "quant") {
  KernelRecord r;
  r.key = key;
  r.spec = family + "/k<" + key + ">@sm_90a";
  r.family = family;
  r.arch = "sm_90a";
  r.lowered_name = "_Z1kILi" + std::to_string(key.size()) + "EEvv";
  r.cubin.resize(size);
  std::mt19937_64 rng(std::hash<std::string>{}(key));
  for (auto& b : r.cubin) b = static_cast<std::uint8_t>(rng() | 1);
  r.log = "ptxas info: Used 10 registers for " + key;
  r.registers = 10;
  return r;
}

// A measurement as schema 1-3 stored it (the fields before the session columns).
inline TuningRecord tuning_row(std::string key, std::string family, std::string shape, std::string config,
                               double time_us, std::int64_t measured_at, std::string device) {
  TuningRecord r;
  r.key = std::move(key);
  r.spec_family = std::move(family);
  r.shape_json = std::move(shape);
  r.config_json = std::move(config);
  r.time_us = time_us;
  r.measured_at = measured_at;
  r.device = std::move(device);
  return r;
}

inline StoreOptions quiet(std::string* why = nullptr, int timeout_ms = 2000) {
  StoreOptions o;
  o.busy_timeout_ms = timeout_ms;
  o.on_bypass = [why](const std::string& w) { if (why) *why += w + "\n"; };
  o.on_corrupt = [](const std::string&) {};
  // record(key) names its key inside its spec ("quant/k<KEY>@sm_90a"): that is its key.
  o.key_of_spec = [](const std::string& spec) {
    const auto begin = spec.find('<'), end = spec.rfind('>');
    return begin == std::string::npos || end == std::string::npos ? std::string() : spec.substr(begin + 1, end - begin - 1);
  };
  return o;
}

inline int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Raw access to a database file, bypassing the store (to damage it, age it, inspect it).
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& p) {
    if (sqlite3_open(p.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + p.string());
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  std::string text(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    std::string out = "<error>";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
      out = "<no row>";
      if (sqlite3_step(st) == SQLITE_ROW) {
        const auto* t = sqlite3_column_text(st, 0);
        out = t ? reinterpret_cast<const char*>(t) : "<null>";
      }
    }
    sqlite3_finalize(st);
    return out;
  }
  long long integer(const std::string& sql) { return std::stoll(text(sql)); }
  sqlite3* get() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// Runs `body` in a forked child that cannot override file permissions (root drops to the
// nobody user), and returns what the body returned: empty for success, else what went wrong.
inline std::string run_unprivileged(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0))
      out = "cannot drop root privileges";
    if (out.empty()) out = body();
    if (!out.empty() && ::write(fds[1], out.data(), out.size()) < 0) _exit(3);
    _exit(out.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) out += " (child killed by signal " + std::to_string(WTERMSIG(status)) + ")";
  else if (WEXITSTATUS(status) != 0 && out.empty()) out = "child exit " + std::to_string(WEXITSTATUS(status));
  return out;
}

}  // namespace shapejit::cache::testing
