#pragma once
// Pre-compilation: fill the kernel database with a set of kernels ahead of the first call, so a
// serving process starts on cache hits. `shapejit precompile` is a front end to this.
//
//   shapejit::runtime::PrecompileOptions options;
//   options.runtime.cache_path = "/var/cache/app/kernels.db";
//   auto target = shapejit::runtime::default_target_device();          // or current_device()
//   auto result = shapejit::runtime::precompile_manifest("kernels.json", target, options);
//   // or: precompile_model("deepseek-v3", target, options), or precompile(specs, options)
//   if (!result.ok()) ...   // result.failures, result.not_stored
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

struct PrecompileOptions {
  // The runtime the kernels are compiled through: cache_path (empty: default_cache_path()),
  // compile_worker, compile_in_process, compile_timeout_s, and jobs (parallel compiles; 0: the
  // number of cores; never more than there are kernels).
  RuntimeOptions runtime;
  // Called after each kernel (from the compiling threads, one call at a time) with the kernels
  // done so far, the total and the kernel's spec. Optional.
  std::function<void(std::size_t done, std::size_t total, const jit::KernelSpec& spec)> on_progress;
};

struct PrecompileFailure {
  std::string spec;      // as a person reads it: parameter names beside values (describe_spec)
  std::optional<Errc> code;   // empty: the error was not a shapejit::Error
  std::string message;   // first line of the error
};

struct PrecompileResult {
  std::size_t total = 0;        // kernels asked for (after deduplication by the caller)
  std::size_t compiled = 0;     // compiled now
  std::size_t cache_hits = 0;   // already in the database (or in memory)
  std::vector<PrecompileFailure> failures;
  // Cache keys that were compiled or found but are not in the database file afterwards (a
  // read-only, locked or damaged database keeps them in memory only); empty when the runtime
  // uses no cache.
  std::vector<std::string> not_stored;
  bool cache_damaged = false;   // the database file is damaged: `shapejit cache verify --repair`
  double seconds = 0;           // wall time
  double median_compile_ms = 0; // over the kernels compiled now
  std::filesystem::path cache_path;
  RuntimeStats stats;           // of the runtime the kernels went through

  // Every kernel is in the database file.
  bool ok() const { return failures.empty() && not_stored.empty(); }
};

// Compiles every spec not yet in the cache database, in parallel. A kernel that fails (to
// compile, or for want of a compile worker) is recorded in failures and the others go on: one
// kernel's error is never thrown.
PrecompileResult precompile(const std::vector<jit::KernelSpec>& specs, const PrecompileOptions& options = {});
// The kernels of a manifest (load_manifest / parse_manifest).
PrecompileResult precompile(const Manifest& manifest, const PrecompileOptions& options = {});

// The whole step for a built-in model or a manifest file, as `shapejit precompile` takes it:
// load_tuning_records(options.runtime), then the kernel list for `target` (a manifest's
// "target" overrides its fields), then precompile(). Bad input (unknown model, bad manifest
// entry) throws Error(invalid_argument) before anything is compiled.
PrecompileResult precompile_model(std::string_view model, const DeviceInfo& target,
                                  const PrecompileOptions& options = {});
PrecompileResult precompile_manifest(const std::filesystem::path& manifest, const DeviceInfo& target,
                                     const PrecompileOptions& options = {});

// The tuning winners a Runtime with these options consults (Runtime::tuned_configs()), for
// the kernel lists model_kernel_set() and load_manifest() build, so they name the kernels that
// runtime will load. nullptr when options.use_tuning_records is off or the database does not
// exist (the heuristic's configs).
std::shared_ptr<const TunedConfigs> load_tuning_records(const RuntimeOptions& options);

// The built-in kernel set of a model for a target device, deduplicated, in a stable order
// (tuned: as load_manifest takes it). Throws Error(invalid_argument) for a model it does not
// know, naming the ones it knows.
std::vector<jit::KernelSpec> model_kernel_set(std::string_view model, const DeviceInfo& target,
                                              const TunedConfigs* tuned = nullptr);
std::vector<std::string> builtin_models();   // {"deepseek-v3"}

}  // namespace shapejit::runtime
