#include "shapejit/runtime/precompile.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/tuned_configs.hpp"
#include "shapejit/runtime/work_loop.hpp"

namespace shapejit::runtime {
namespace fs = std::filesystem;
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Which keys did not reach the database file, and whether the file is damaged. Opened apart
// from the runtime's own store, so what counts is what a later process would find.
void check_stored(const fs::path& path, const std::vector<std::string>& keys, PrecompileResult& result) {
  cache::StoreOptions options;
  options.create = false;
  options.on_bypass = [](const std::string&) {};   // the runtime's store has said why already
  cache::KernelStore store(path, options);
  std::set<std::string> present;
  if (store.persistent()) {
    try {
      for (const auto& r : store.list()) present.insert(r.key);
    } catch (const Error&) {
      // Unreadable now: nothing counts as stored.
    }
  }
  for (const auto& k : keys)
    if (!present.count(k)) result.not_stored.push_back(k);
  result.cache_damaged = store.damaged();
}

}  // namespace

PrecompileResult precompile(const std::vector<jit::KernelSpec>& specs, const PrecompileOptions& options) {
  RuntimeOptions ro = options.runtime;
  if (ro.cache_path.empty()) ro.cache_path = default_cache_path();
  // More threads or workers than kernels would only idle.
  const int wanted = ro.jobs > 0 ? ro.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ro.jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(wanted), std::max<std::size_t>(specs.size(), 1)));
  Runtime rt(ro);

  PrecompileResult result;
  result.total = specs.size();
  result.cache_path = ro.cache_path;
  const auto start = std::chrono::steady_clock::now();
  std::atomic<std::size_t> next{0};
  std::mutex mutex;   // guards result, keys, compile_ms, done and on_progress
  std::size_t done = 0;
  std::vector<double> compile_ms;
  std::vector<std::string> keys;

  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < specs.size();) {
      std::optional<CubinLookup> found;
      PrecompileFailure failure;
      try {
        found = rt.fetch(specs[i]);
      } catch (const Error& e) {
        failure.code = e.code();
        failure.message = first_line(e.what());
      } catch (const std::exception& e) {
        failure.message = first_line(e.what());
      }
      std::lock_guard lock(mutex);
      if (found) {
        keys.push_back(found->key);
        if (found->source == CubinSource::compiled) {
          ++result.compiled;
          compile_ms.push_back(found->result->compile_ms);
        } else {
          ++result.cache_hits;
        }
      } else {
        failure.spec = jit::describe_spec(specs[i]);
        result.failures.push_back(std::move(failure));
      }
      ++done;
      if (options.on_progress) options.on_progress(done, specs.size(), specs[i]);
    }
  };
  run_work_loop(ro.jobs, work);

  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(compile_ms.begin(), compile_ms.end());
  result.median_compile_ms = compile_ms.empty() ? 0.0 : compile_ms[compile_ms.size() / 2];
  result.stats = rt.stats();
  if (ro.use_cache) check_stored(ro.cache_path, keys, result);
  return result;
}

PrecompileResult precompile(const Manifest& manifest, const PrecompileOptions& options) {
  return precompile(manifest.specs, options);
}

std::shared_ptr<const TunedConfigs> load_tuning_records(const RuntimeOptions& options) {
  if (!options.use_cache || !options.use_tuning_records) return nullptr;
  cache::StoreOptions o;
  o.create = false;
  o.on_bypass = [](const std::string&) {};   // no database yet: nothing tuned
  cache::KernelStore store(options.cache_path.empty() ? default_cache_path() : options.cache_path, o);
  if (!store.persistent()) return nullptr;
  return std::make_shared<const TunedConfigs>(store);
}

PrecompileResult precompile_model(std::string_view model, const DeviceInfo& target, const PrecompileOptions& options) {
  const auto tuned = load_tuning_records(options.runtime);
  return precompile(model_kernel_set(model, target, tuned.get()), options);
}

PrecompileResult precompile_manifest(const fs::path& manifest, const DeviceInfo& target,
                                     const PrecompileOptions& options) {
  const auto tuned = load_tuning_records(options.runtime);
  return precompile(load_manifest(manifest, target, tuned.get()), options);
}

std::vector<std::string> builtin_models() { return {"deepseek-v3"}; }

std::vector<jit::KernelSpec> model_kernel_set(std::string_view model, const DeviceInfo& target,
                                              const TunedConfigs* tuned) {
  if (model == "deepseek-v3") return deepseek_v3_specs(target, tuned);
  std::string known;
  for (const auto& m : builtin_models()) known += (known.empty() ? "" : ", ") + m;
  fail(Errc::invalid_argument, "unknown model '" + std::string(model) + "' (built-in kernel sets: " + known + ")");
}

}  // namespace shapejit::runtime
