#pragma once
// Compiles in a pool of worker processes (shapejit-compile-worker), so an NVRTC crash or hang
// costs one compile, never the calling process. A crashed or timed-out worker is killed and
// replaced on the next request.
#include <filesystem>
#include <memory>

#include "shapejit/jit/compile_result.hpp"
#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

struct WorkerPoolOptions {
  int max_workers = 0;                  // 0: hardware concurrency
  int timeout_s = 120;                  // per compile
  std::filesystem::path worker_path;    // empty: find_compile_worker()
};

// The compile worker executable, the first of:
//   1. `configured` (RuntimeOptions::compile_worker), when not empty;
//   2. $SHAPEJIT_COMPILE_WORKER, when set;
//   3. shapejit-compile-worker beside the module that holds this library's code (libshapejit.so
//      when linked as the shared library, else the executable or Python module it was linked
//      into), or in ../libexec/shapejit or ../bin relative to that module's folder;
//   4. unless the module is the shared library: the worker of the build tree this library was
//      built in (add_subdirectory users), then <configured install prefix>/libexec/shapejit.
// A path named in 1 or 2 must be executable. Throws Error(unsupported) listing every place it
// looked and how to name the worker.
std::filesystem::path find_compile_worker(const std::filesystem::path& configured = {});

class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolOptions options = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Thread-safe; up to max_workers compiles run at once. Throws CompileError with
  // Errc::compile_failed (log attached), compiler_crashed (signal named) or compile_timeout.
  CompileResult compile(const KernelSpec& spec, bool want_ptx);

  int workers_started() const;   // how many processes were spawned so far (replacements count)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shapejit::jit
