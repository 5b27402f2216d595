// shapejit precompile: compile a model's kernel set (or a manifest's) into the cache database.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <limits>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache_open.hpp"
#include "commands.hpp"
#include "progress_bar.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "worker_threads.hpp"

namespace shapejit::cli {
namespace {

struct PrecompileArgs {
  std::string model;
  std::string manifest;
  std::string arch;
  int num_sms = 0;
  int jobs = 0;
  std::string cache;
  bool json = false;
  bool in_process = false;
  bool list_ops = false;
  int timeout_s = 300;
};

void print_ops() {
  for (const auto& f : runtime::op_families())
    std::cout << f.op << "\n    " << f.summary << "\n";
}

// The target and where each of its fields came from: the manifest's "target" overrides the
// command line, which overrides the device (or the default Hopper target without one).
struct Target {
  runtime::DeviceInfo device;
  std::string arch_from, num_sms_from;
};

Target choose_target(const PrecompileArgs& a) {
  Target t{runtime::default_target_device(), "default", "default"};
  if (a.arch.empty() && a.num_sms == 0 && runtime::driver_available()) {
    t.device = runtime::current_device();
    t.arch_from = t.num_sms_from = "device";
  }
  if (!a.arch.empty()) t.device.arch = a.arch, t.arch_from = "--arch";
  if (a.num_sms > 0) t.device.num_sms = a.num_sms, t.num_sms_from = "--num-sms";
  return t;
}

// "sm_90a (manifest target; --arch sm_80 ignored)"
std::string provenance(const std::string& value, const std::string& from, const char* option,
                       const std::string& given) {
  std::string s = value + " (" + from;
  if (from == "manifest" && !given.empty() && given != value) s += "; " + std::string(option) + " " + given + " ignored";
  return s + ")";
}

// Which kernels did not reach the database file (compiled, yet kept in memory only), and
// whether the file is damaged (then `cache verify --repair` is the way out).
struct StoreCheck {
  std::vector<std::string> missing;
  bool damaged = false;
};

StoreCheck check_stored(const std::filesystem::path& path, const std::vector<std::string>& keys) {
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
  StoreCheck check;
  for (const auto& k : keys)
    if (!present.count(k)) check.missing.push_back(k);
  check.damaged = store.damaged();
  return check;
}

void run_precompile(const PrecompileArgs& a) {
  // A mistyped --arch is bad input (exit 2), not 84 failed compiles.
  if (!a.arch.empty()) jit::check_arch(a.arch);
  Target target = choose_target(a);
  std::vector<jit::KernelSpec> specs;
  if (!a.manifest.empty()) {
    runtime::Manifest m = runtime::load_manifest(a.manifest, target.device);
    specs = std::move(m.specs);
    target.device = m.target;
    if (m.sets_arch) target.arch_from = "manifest";
    if (m.sets_num_sms) target.num_sms_from = "manifest";
  } else {
    specs = runtime::deepseek_v3_specs(target.device);
  }

  runtime::RuntimeOptions options;
  options.cache_path = a.cache.empty() ? runtime::default_cache_path() : std::filesystem::path(a.cache);
  // More threads or workers than kernels would only idle.
  const int wanted = a.jobs > 0 ? a.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(wanted), std::max<std::size_t>(specs.size(), 1)));
  options.compile_in_process = a.in_process;
  options.compile_timeout_s = a.timeout_s;
  runtime::Runtime rt(options);

  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar(static_cast<long long>(specs.size()), !a.json && stderr_is_terminal());
  std::atomic<size_t> next{0};
  std::atomic<long long> done{0}, hits{0}, compiled{0}, failed{0};
  std::mutex mutex;
  std::vector<double> compile_ms;
  std::vector<std::string> failures, keys;

  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < specs.size();) {
      const std::string name = jit::describe_spec(specs[i]);
      try {
        const runtime::CubinLookup r = rt.fetch(specs[i]);
        std::lock_guard lock(mutex);
        keys.push_back(r.key);
        if (r.source == runtime::CubinSource::compiled) {
          ++compiled;
          compile_ms.push_back(r.result->compile_ms);
        } else {
          ++hits;
        }
      } catch (const std::exception& e) {
        ++failed;
        std::string first_line = e.what();
        first_line = first_line.substr(0, first_line.find('\n'));
        std::lock_guard lock(mutex);
        failures.push_back(name + ": " + first_line);
      }
      bar.update(++done, name);
    }
  };
  run_work_loop(options.jobs, work);
  bar.finish();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(compile_ms.begin(), compile_ms.end());
  const double median = compile_ms.empty() ? 0.0 : compile_ms[compile_ms.size() / 2];
  for (const auto& f : failures) std::cerr << "failed: " << f << "\n";
  const runtime::RuntimeStats stats = rt.stats();
  const StoreCheck stored = check_stored(options.cache_path, keys);
  const std::vector<std::string>& missing = stored.missing;
  const std::string arch = provenance(target.device.arch, target.arch_from, "--arch", a.arch);
  const std::string sms = provenance(std::to_string(target.device.num_sms), target.num_sms_from, "--num-sms",
                                     a.num_sms > 0 ? std::to_string(a.num_sms) : "");
  if (a.json) {
    nlohmann::json out = {{"compiled", compiled.load()},   {"hits", hits.load()},
                          {"failed", failed.load()},       {"total", specs.size()},
                          {"not_stored", missing.size()},  {"seconds", seconds},
                          {"median_compile_ms", median},   {"arch", target.device.arch},
                          {"num_sms", target.device.num_sms},
                          {"target_from", {{"arch", target.arch_from}, {"num_sms", target.num_sms_from}}},
                          {"cache", stats.cache_status},
                          {"cache_corrupt", stats.cache_corrupt},
                          {"cache_bypasses", stats.cache_bypasses}};
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << "precompiled " << specs.size() << " kernels for " << arch << ", " << sms << " SMs in " << seconds
              << " s: " << compiled << " compiled, " << hits << " cache hits, " << failed
              << " failed; median compile " << median << " ms\ncache: " << stats.cache_status << "\n";
  }
  if (failed) throw ExitCode{kExitFailure};
  if (!missing.empty()) {
    std::cerr << "shapejit: " << missing.size() << " of " << specs.size() << " kernels are not in the cache database "
              << options.cache_path.string() << " (" << stats.cache_status << "); "
              << (stored.damaged ? recovery_hint(options.cache_path) : "see `shapejit cache stats`") << "\n";
    throw ExitCode{kExitNotStored};
  }
}

}  // namespace

void add_precompile_command(CLI::App& app) {
  auto a = std::make_shared<PrecompileArgs>();
  auto* cmd = app.add_subcommand("precompile", "Compile a model's kernel set or a manifest into the cache");
  auto* model = cmd->add_option("--model", a->model, "built-in kernel set")->check(CLI::IsMember({"deepseek-v3"}));
  auto* manifest = cmd->add_option("--manifest", a->manifest, "JSON manifest of op shapes or specs (see README)");
  model->excludes(manifest);
  cmd->add_option("--arch", a->arch, "target arch (default: this GPU, else sm_90a)");
  cmd->add_option("--num-sms", a->num_sms, "target SM count (default: this GPU, else 132)")->check(CLI::PositiveNumber);
  cmd->add_option("-j,--jobs", a->jobs, "parallel compiles, at least 1 (default: number of cores)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  cmd->add_option("--cache", a->cache, "cache database (default: $XDG_CACHE_HOME/shapejit/kernels.db)");
  cmd->add_flag("--json", a->json, "print one JSON summary line instead of text");
  cmd->add_flag("--in-process", a->in_process, "compile in this process instead of worker processes");
  cmd->add_option("--timeout", a->timeout_s, "per-kernel compile time limit, seconds")->check(CLI::PositiveNumber);
  cmd->add_flag("--list-ops", a->list_ops, "list the ops a manifest may name, with their fields");
  cmd->callback([a, cmd] {
    if (a->list_ops) return print_ops();
    if (a->model.empty() && a->manifest.empty())
      throw CLI::RequiredError("precompile needs --model deepseek-v3 or --manifest FILE");
    run_precompile(*a);
  });
}

}  // namespace shapejit::cli
