#include "shapejit/jit/worker_pool.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "shapejit/error.hpp"
#include "worker_protocol.hpp"

extern char** environ;

namespace shapejit::jit {
namespace fs = std::filesystem;
namespace proto = worker_protocol;

namespace {

bool executable(const fs::path& p) { return ::access(p.c_str(), X_OK) == 0; }

// The file the code of this library was loaded from: the shared library when linked as one
// (libshapejit.so), else the executable (or Python module) it was linked into.
std::optional<fs::path> library_module() {
  Dl_info info{};
  if (!::dladdr(reinterpret_cast<void*>(&library_module), &info) || !info.dli_fname || !*info.dli_fname)
    return std::nullopt;
  std::error_code ec;
  fs::path module = fs::canonical(info.dli_fname, ec);
  return ec ? fs::path(info.dli_fname) : module;
}

}  // namespace

fs::path find_compile_worker(const fs::path& configured) {
  constexpr const char* kName = "shapejit-compile-worker";
  if (!configured.empty()) {
    if (executable(configured)) return configured;
    fail(Errc::unsupported, "the compile worker " + configured.string() +
                                " (RuntimeOptions::compile_worker) is not an executable file");
  }
  if (const char* env = std::getenv("SHAPEJIT_COMPILE_WORKER"); env && *env) {
    if (executable(env)) return env;
    fail(Errc::unsupported, std::string("SHAPEJIT_COMPILE_WORKER=") + env + " is not an executable file");
  }
  std::vector<fs::path> tried;
  auto found = [&tried](const fs::path& candidate) {
    tried.push_back(candidate.lexically_normal());
    return executable(candidate);
  };
  const auto module = library_module();
  if (module) {
    const fs::path dir = module->parent_path();
    for (const fs::path& candidate :
         {dir / kName, dir / ".." / "libexec" / "shapejit" / kName, dir / ".." / "bin" / kName})
      if (found(candidate)) return candidate.lexically_normal();
  }
  // The installed shared library looks only relative to itself: a prefix can be moved, and a
  // build tree or the configured prefix may hold a worker of another version.
  const bool shared_library = module && module->filename().string().starts_with("libshapejit.so");
  if (!shared_library) {
    // Linked statically from a build tree (add_subdirectory): the worker that tree built; then
    // the prefix the build was configured to install into.
    if (found(SHAPEJIT_BUILD_TREE_WORKER)) return SHAPEJIT_BUILD_TREE_WORKER;
    if (found(SHAPEJIT_INSTALLED_WORKER)) return SHAPEJIT_INSTALLED_WORKER;
  }
  std::string where;
  for (const auto& p : tried) where += "\n  " + p.string();
  fail(Errc::unsupported,
       std::string(kName) + " not found; looked in:" + where +
           "\nfix: name it in RuntimeOptions::compile_worker or the environment variable "
           "SHAPEJIT_COMPILE_WORKER, put it in one of the places above, or compile in this process "
           "(RuntimeOptions::compile_in_process)");
}

namespace {

std::string describe_signal(int sig) {
  const char* name = ::sigabbrev_np(sig);
  return std::string("signal ") + (name ? std::string("SIG") + name : "?") + " (" +
         std::to_string(sig) + ")";
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;

  ~Worker() { stop(SIGTERM); }
  void stop(int sig) {
    if (fd >= 0) ::close(fd);
    fd = -1;
    if (pid > 0) {
      // The worker leads its own process group: whatever it started goes with it, so nothing
      // it spawned outlives it holding our pipes open.
      ::kill(-pid, sig);
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      pid = -1;
    }
  }
  // Whether the worker process is still running (it is not reaped here).
  bool alive() const {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  // After EOF: how the worker ended.
  std::string reap() {
    ::close(fd);
    fd = -1;
    // Wait for the exit without reaping: the unreaped worker keeps its group id from being reused
    // while the rest of its group is killed.
    siginfo_t info{};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    pid = -1;
    if (r < 0) return "an unknown cause";
    if (WIFSIGNALED(status)) return describe_signal(WTERMSIG(status));
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    return "an unknown cause";
  }
};

std::unique_ptr<Worker> spawn_worker(const fs::path& exe) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    fail(Errc::io, std::string("socketpair: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], 0);   // dup2 clears CLOEXEC on fd 0
  posix_spawn_file_actions_adddup2(&actions, sv[1], 1);
  const std::string path = exe.string();
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);   // a group of its own, led by the worker
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    fail(Errc::io, "cannot start " + path + ": " + std::strerror(rc));
  }
  auto w = std::make_unique<Worker>();
  w->pid = pid;
  w->fd = sv[0];
  return w;
}

}  // namespace

struct WorkerPool::Impl {
  WorkerPoolOptions options;
  fs::path exe;
  std::mutex mutex;
  std::condition_variable available;
  std::vector<std::unique_ptr<Worker>> idle;
  int busy = 0;
  int started = 0;

  std::unique_ptr<Worker> acquire() {
    std::unique_lock lock(mutex);
    available.wait(lock, [&] { return !idle.empty() || busy < options.max_workers; });
    ++busy;
    if (!idle.empty()) {
      auto w = std::move(idle.back());
      idle.pop_back();
      return w;
    }
    ++started;
    lock.unlock();
    try {
      return spawn_worker(exe);
    } catch (...) {
      release(nullptr);
      throw;
    }
  }

  void release(std::unique_ptr<Worker> w) {
    std::lock_guard lock(mutex);
    --busy;
    if (w) idle.push_back(std::move(w));
    available.notify_one();
  }
};

WorkerPool::WorkerPool(WorkerPoolOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.max_workers <= 0)
    options.max_workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->exe = options.worker_path.empty() ? find_compile_worker() : options.worker_path;
  impl_->options = std::move(options);
}

WorkerPool::~WorkerPool() = default;

int WorkerPool::workers_started() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->started;
}

CompileResult WorkerPool::compile(const KernelSpec& spec, bool want_ptx) {
  const std::string name = spec.canonical();
  std::unique_ptr<Worker> w = impl_->acquire();
  // A worker that dies or hangs is dropped (its destructor kills and reaps it); the next
  // acquire() starts a replacement.
  auto drop = [&] { impl_->release(nullptr); };
  if (!proto::write_message(w->fd, proto::encode(proto::Request{name, want_ptx}))) {
    const std::string why = w->reap();
    drop();
    throw CompileError(Errc::compiler_crashed, name, "",
                       "compile worker for " + name + " died before the request (" + why + ")");
  }
  std::optional<std::string> reply;
  try {
    reply = proto::read_message(w->fd, impl_->options.timeout_s * 1000, [&w] { return w->alive(); });
  } catch (const Error& e) {
    if (e.code() != Errc::compile_timeout) {
      drop();
      throw;
    }
    w->stop(SIGKILL);
    drop();
    throw CompileError(Errc::compile_timeout, name, "",
                       "compiling " + name + " exceeded the time limit of " +
                           std::to_string(impl_->options.timeout_s) + " s; the compiler was killed");
  }
  if (!reply) {
    const std::string why = w->reap();
    drop();
    throw CompileError(Errc::compiler_crashed, name, "",
                       "the compiler crashed compiling " + name + ": worker ended by " + why);
  }
  proto::Response response = proto::decode_response(*reply);
  impl_->release(std::move(w));
  if (response.status != proto::Status::ok)
    throw CompileError(response.error_code, name, response.result.log, response.message);
  return std::move(response.result);
}

}  // namespace shapejit::jit
