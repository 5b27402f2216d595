#include "shapejit/runtime/runtime.hpp"

#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <unordered_map>

#include "kernel_store_adapter.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compile_key.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/worker_pool.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/tuned_configs.hpp"
#include "shapejit/runtime/tuning_records.hpp"

namespace shapejit::runtime {
namespace fs = std::filesystem;

fs::path default_cache_path() {
  if (const char* p = std::getenv("SHAPEJIT_CACHE"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return fs::path(x) / "shapejit" / "kernels.db";
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".cache" / "shapejit" / "kernels.db";
}

fs::path compile_worker_path(const RuntimeOptions& options) {
  return jit::find_compile_worker(options.compile_worker);
}

struct Runtime::Impl {
  RuntimeOptions options;
  std::unique_ptr<KernelStoreAdapter> store;
  std::once_flag pool_once;
  std::unique_ptr<jit::WorkerPool> pool;

  mutable std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const jit::CompileResult>> memory;   // by key
  // Single flight: the first caller for a key compiles, later callers wait on its future.
  std::unordered_map<std::string, std::shared_future<std::shared_ptr<const jit::CompileResult>>>
      in_flight;
  struct Library {
    CUlibrary library = nullptr;
    std::unique_ptr<LoadedKernel> kernel;
  };
  std::map<std::pair<CUcontext, std::string>, Library> loaded;   // by (context, spec text)
  RuntimeStats stats;
  std::unique_ptr<const TunedConfigs> tuned;   // null: records off / no database

  ~Impl() {
    if (!loaded.empty() && driver_available())
      for (auto& [k, lib] : loaded)
        if (lib.library) driver().cuLibraryUnload(lib.library);
  }

  jit::CompileResult compile(const jit::KernelSpec& spec) {
    if (options.compile_in_process) return jit::compile_in_process(spec, false);
    std::call_once(pool_once, [&] {
      jit::WorkerPoolOptions o;
      o.max_workers = options.jobs;
      o.timeout_s = options.compile_timeout_s;
      o.worker_path = compile_worker_path(options);
      pool = std::make_unique<jit::WorkerPool>(o);
    });
    return pool->compile(spec, false);
  }
};

Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.use_cache) {
    const fs::path path = impl_->options.cache_path.empty() ? default_cache_path()
                                                            : impl_->options.cache_path;
    impl_->store = std::make_unique<KernelStoreAdapter>(path);
    // This runtime's calls consult its database's tuning winners before their heuristics
    // (each is checked against the device, SM count, driver, NVRTC and kernel definition at the
    // call).
    if (impl_->options.use_tuning_records)
      impl_->tuned = std::make_unique<const TunedConfigs>(impl_->store->store());
  }
}

const TunedConfigs* Runtime::tuned_configs() const { return impl_->tuned.get(); }

std::optional<cache::TuningRecord> Runtime::tuned(std::string_view op, std::string_view shape_json,
                                                  const DeviceInfo& device) const {
  if (!impl_->tuned) return std::nullopt;
  return impl_->tuned->find(op, shape_json, device);
}

const GemmConfigLookup* Runtime::gemm_tuning() const { return gemm_lookup(impl_->tuned.get()); }

Runtime::~Runtime() = default;

Runtime& Runtime::global() {
  static Runtime runtime;
  return runtime;
}

const RuntimeOptions& Runtime::options() const { return impl_->options; }

RuntimeStats Runtime::stats() const {
  std::lock_guard lock(impl_->mutex);
  RuntimeStats s = impl_->stats;
  s.cache_status = impl_->store ? impl_->store->status() : "disabled";
  if (impl_->store) impl_->store->add_counters(s);
  return s;
}

CubinLookup Runtime::fetch(const jit::KernelSpec& spec) {
  Impl& m = *impl_;
  CubinLookup out;
  out.key = jit::compile_key(spec);
  std::promise<std::shared_ptr<const jit::CompileResult>> promise;
  {
    std::unique_lock lock(m.mutex);
    if (auto it = m.memory.find(out.key); it != m.memory.end()) {
      ++m.stats.memory_hits;
      out.result = it->second;
      out.source = CubinSource::memory;
      return out;
    }
    if (auto it = m.in_flight.find(out.key); it != m.in_flight.end()) {
      auto future = it->second;
      lock.unlock();
      out.result = future.get();   // rethrows the leader's error
      out.source = CubinSource::memory;
      return out;
    }
    m.in_flight.emplace(out.key, promise.get_future().share());
  }
  // This thread leads: the cache database, then the compiler.
  auto finish = [&](std::shared_ptr<const jit::CompileResult> r, CubinSource source) {
    std::lock_guard lock(m.mutex);
    m.memory.emplace(out.key, r);
    m.in_flight.erase(out.key);
    if (source == CubinSource::cache) ++m.stats.cache_hits;
    if (source == CubinSource::compiled) ++m.stats.compiles;
    promise.set_value(r);
    out.result = std::move(r);
    out.source = source;
  };
  try {
    if (m.store) {
      if (auto cached = m.store->get(out.key)) {
        finish(std::make_shared<const jit::CompileResult>(std::move(*cached)), CubinSource::cache);
        return out;
      }
    }
    auto result = std::make_shared<const jit::CompileResult>(m.compile(spec));
    if (m.store) m.store->put(out.key, spec, *result);
    finish(std::move(result), CubinSource::compiled);
    return out;
  } catch (...) {
    if (m.store) m.store->abandon(out.key);
    std::lock_guard lock(m.mutex);
    ++m.stats.compile_failures;
    m.in_flight.erase(out.key);
    promise.set_exception(std::current_exception());
    throw;
  }
}

std::shared_ptr<const jit::CompileResult> Runtime::cubin(const jit::KernelSpec& spec) {
  return fetch(spec).result;
}

const LoadedKernel& Runtime::load(const jit::KernelSpec& spec) {
  const DriverApi& d = driver();
  current_device();   // makes a context current
  CUcontext ctx = nullptr;
  SHAPEJIT_CU(d.cuCtxGetCurrent(&ctx));
  const std::string text = spec.canonical();
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->loaded.find({ctx, text}); it != impl_->loaded.end())
      return *it->second.kernel;
  }
  const auto result = cubin(spec);
  Impl::Library lib;
  SHAPEJIT_CU(d.cuLibraryLoadData(&lib.library, result->cubin.data(), nullptr, nullptr, 0,
                                  nullptr, nullptr, 0));
  auto kernel = std::make_unique<LoadedKernel>();
  kernel->spec = text;
  kernel->registers = result->registers;
  kernel->static_smem_bytes = result->static_smem_bytes;
  SHAPEJIT_CU(d.cuLibraryGetKernel(&kernel->kernel, lib.library, result->lowered_name.c_str()));
  SHAPEJIT_CU(d.cuKernelGetFunction(&kernel->function, kernel->kernel));
  lib.kernel = std::move(kernel);
  std::lock_guard lock(impl_->mutex);
  if (auto it = impl_->loaded.find({ctx, text}); it != impl_->loaded.end()) {
    d.cuLibraryUnload(lib.library);   // another thread loaded it meanwhile
    return *it->second.kernel;
  }
  ++impl_->stats.loads;
  return *impl_->loaded.emplace(std::make_pair(ctx, text), std::move(lib)).first->second.kernel;
}

}  // namespace shapejit::runtime
