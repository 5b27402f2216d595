#pragma once
// Runtime: turns a KernelSpec into a loaded kernel (memory → cache database → compile) and
// launches it. The in-memory handle cache makes repeat lookups a hash-map hit.
#include <cuda.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shapejit/jit/compile_result.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/tuned_configs.hpp"

namespace shapejit::runtime {

class GemmConfigLookup;   // gemm_heuristic.hpp

struct RuntimeOptions {
  std::filesystem::path cache_path;   // empty: the default cache (see default_cache_path())
  bool use_cache = true;              // false: compile into memory only
  bool compile_in_process = false;    // default: a pool of worker processes
  int compile_timeout_s = 120;
  int jobs = 0;                       // worker processes; 0: number of cores
  int num_sms = 0;                    // SMs a kernel may use (see Runtime::set_num_sms); 0: all
  // The shapejit-compile-worker executable the worker processes run; empty: found as
  // compile_worker_path() says.
  std::filesystem::path compile_worker;
  // Tuning records (runtime/tuning): the calls of this runtime (GEMM, MLA decode, ...) use the
  // winners of its cache database's tuning sessions that hold for the device before their
  // heuristics (Runtime::tuned). false: always the heuristics. Other runtimes (other
  // databases, records off) are not affected.
  bool use_tuning_records = true;
};

// The compile worker a Runtime with these options starts: options.compile_worker when set, else
// $SHAPEJIT_COMPILE_WORKER, else shapejit-compile-worker beside the module holding the library
// (libshapejit.so, or the executable it is linked into) or in ../libexec/shapejit or ../bin
// relative to it; a statically linked library then tries the build tree it was built in and
// the configured install prefix. Throws Error(unsupported) listing every place it looked and
// how to name the worker.
std::filesystem::path compile_worker_path(const RuntimeOptions& options = {});

// $XDG_CACHE_HOME/shapejit/kernels.db, else ~/.cache/shapejit/kernels.db; SHAPEJIT_CACHE overrides.
std::filesystem::path default_cache_path();

// A kernel ready to launch in the current context.
struct LoadedKernel {
  CUkernel kernel = nullptr;
  CUfunction function = nullptr;
  std::string spec;               // canonical spec text
  int registers = -1;
  int static_smem_bytes = 0;
  mutable std::atomic<unsigned> dynamic_smem_limit{0};   // raised by launch() as needed
};

// Where a cubin came from.
enum class CubinSource { memory, cache, compiled };

struct CubinLookup {
  std::shared_ptr<const jit::CompileResult> result;
  CubinSource source = CubinSource::compiled;
  std::string key;
};

// Counters since the runtime was created.
struct RuntimeStats {
  long long memory_hits = 0, cache_hits = 0, compiles = 0, compile_failures = 0, loads = 0;
  long long cache_misses = 0, cache_corrupt = 0;   // from the database
  std::map<std::string, long long> cache_bypasses;  // reason → count
  std::string cache_status;   // "sqlite <path> (wal)" or "memory only: <reason>"
};

struct LaunchParams {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamic_smem_bytes = 0;
  CUstream stream = nullptr;
  unsigned cluster[3] = {1, 1, 1};        // thread-block cluster dims; {1,1,1}: none
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The process-wide runtime with default options, created on first use.
  static Runtime& global();

  // The cubin for a spec, from memory, the cache database or a fresh compile (one compile per
  // key even when many threads ask at once). Works without a GPU.
  std::shared_ptr<const jit::CompileResult> cubin(const jit::KernelSpec& spec);
  CubinLookup fetch(const jit::KernelSpec& spec);

  // Loaded into the current context (needs a driver); cached per (context, spec).
  const LoadedKernel& load(const jit::KernelSpec& spec);

  RuntimeStats stats() const;
  const RuntimeOptions& options() const;

  // The tuning winners this runtime's calls consult before their heuristics, every op's, read
  // from its cache database when it was created; nullptr when records are off or there is no
  // database. A family's front end asks tuned(op, shape_json, target) for its call's shape and
  // applies record.config_json when there is a winner (tuned_configs.hpp says how).
  const TunedConfigs* tuned_configs() const;
  std::optional<cache::TuningRecord> tuned(std::string_view op, std::string_view shape_json,
                                           const DeviceInfo& device) const;
  // GEMM's view of the same winners (choose_gemm_config); nullptr when records are off.
  const GemmConfigLookup* gemm_tuning() const;

  // The SMs the kernels of this runtime's calls may use, e.g. to leave SMs to communication
  // kernels running alongside (0: all of the device's). The heuristics size persistent grids
  // and SM partitions by it, so it is part of the specs a call picks. Starts at
  // options().num_sms; throws Error(invalid_argument) outside [0, 1024].
  void set_num_sms(int num_sms);
  int num_sms() const;
  // The device as the heuristics see it: `device` with num_sms() SMs (unchanged when 0).
  // Throws Error(invalid_argument) when num_sms() exceeds the device's SMs.
  DeviceInfo target(const DeviceInfo& device) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> num_sms_{-1};   // -1: options().num_sms
};

// cuLaunchKernelEx with the cluster attribute; raises the dynamic shared-memory limit
// when needed. Throws Error(driver) naming the kernel when the launch is rejected.
void launch(const LoadedKernel& kernel, const LaunchParams& params, void** args);

// The kernel of `spec`, loaded by `runtime`, launched on a 1-D grid with no cluster and no
// dynamic shared memory; `args` are the kernel's parameters, passed by value in order.
template <typename... Args>
void launch_1d(Runtime& runtime, const jit::KernelSpec& spec, unsigned grid, unsigned block, CUstream stream,
               Args... args) {
  LaunchParams params;
  params.grid[0] = grid;
  params.block[0] = block;
  params.stream = stream;
  void* ptrs[] = {static_cast<void*>(&args)...};
  launch(runtime.load(spec), params, ptrs);
}

}  // namespace shapejit::runtime
