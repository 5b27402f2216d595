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

// $SHAPEJIT_COMPILE_WORKER, else shapejit-compile-worker beside the module that holds this
// library (the executable for a static link, the .so for a shared one), or in ../libexec/shapejit
// or ../bin relative to it, else the installed copy (<prefix>/libexec/shapejit). Throws
// Error(unsupported) listing the places it looked.
std::filesystem::path find_compile_worker();

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
