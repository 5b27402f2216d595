// shapejit precompile: compile a model's kernel set (or a manifest's) into the cache database.
#include <filesystem>
#include <iostream>
#include <limits>

#include <nlohmann/json.hpp>

#include "cache_open.hpp"
#include "commands.hpp"
#include "progress_bar.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/precompile.hpp"
#include "shapejit/runtime/runtime.hpp"

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

void run_precompile(const PrecompileArgs& a) {
  // A mistyped --arch is bad input (exit 2), not 84 failed compiles.
  if (!a.arch.empty()) jit::check_arch(a.arch);
  Target target = choose_target(a);
  runtime::PrecompileOptions options;
  options.runtime.cache_path = a.cache.empty() ? runtime::default_cache_path() : std::filesystem::path(a.cache);
  options.runtime.jobs = a.jobs;
  options.runtime.compile_in_process = a.in_process;
  options.runtime.compile_timeout_s = a.timeout_s;
  // The specs are the ones calls will load: tuned winners of this database first.
  const auto tuned = runtime::load_tuning_records(options.runtime);
  std::vector<jit::KernelSpec> specs;
  if (!a.manifest.empty()) {
    runtime::Manifest m = runtime::load_manifest(a.manifest, target.device, tuned.get());
    specs = std::move(m.specs);
    target.device = m.target;
    if (m.sets_arch) target.arch_from = "manifest";
    if (m.sets_num_sms) target.num_sms_from = "manifest";
  } else {
    specs = runtime::model_kernel_set(a.model, target.device, tuned.get());
  }

  ProgressBar bar(static_cast<long long>(specs.size()), !a.json && stderr_is_terminal());
  options.on_progress = [&bar](std::size_t done, std::size_t, const jit::KernelSpec& spec) {
    bar.update(static_cast<long long>(done), jit::describe_spec(spec));
  };
  const runtime::PrecompileResult r = runtime::precompile(specs, options);
  bar.finish();

  for (const auto& f : r.failures) std::cerr << "failed: " << f.spec << ": " << f.message << "\n";
  const std::string arch = provenance(target.device.arch, target.arch_from, "--arch", a.arch);
  const std::string sms = provenance(std::to_string(target.device.num_sms), target.num_sms_from, "--num-sms",
                                     a.num_sms > 0 ? std::to_string(a.num_sms) : "");
  if (a.json) {
    nlohmann::json out = {{"compiled", r.compiled},        {"hits", r.cache_hits},
                          {"failed", r.failures.size()},   {"total", r.total},
                          {"not_stored", r.not_stored.size()}, {"seconds", r.seconds},
                          {"median_compile_ms", r.median_compile_ms}, {"arch", target.device.arch},
                          {"num_sms", target.device.num_sms},
                          {"target_from", {{"arch", target.arch_from}, {"num_sms", target.num_sms_from}}},
                          {"cache", r.stats.cache_status},
                          {"cache_corrupt", r.stats.cache_corrupt},
                          {"cache_bypasses", r.stats.cache_bypasses}};
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << "precompiled " << r.total << " kernels for " << arch << ", " << sms << " SMs in " << r.seconds
              << " s: " << r.compiled << " compiled, " << r.cache_hits << " cache hits, " << r.failures.size()
              << " failed; median compile " << r.median_compile_ms << " ms\ncache: " << r.stats.cache_status << "\n";
  }
  if (!r.failures.empty()) throw ExitCode{kExitFailure};
  if (!r.not_stored.empty()) {
    std::cerr << "shapejit: " << r.not_stored.size() << " of " << r.total << " kernels are not in the cache database "
              << r.cache_path.string() << " (" << r.stats.cache_status << "); "
              << (r.cache_damaged ? recovery_hint(r.cache_path) : "see `shapejit cache stats`") << "\n";
    throw ExitCode{kExitNotStored};
  }
}

}  // namespace

void add_precompile_command(CLI::App& app) {
  auto a = std::make_shared<PrecompileArgs>();
  auto* cmd = app.add_subcommand("precompile", "Compile a model's kernel set or a manifest into the cache");
  auto* model = cmd->add_option("--model", a->model, "built-in kernel set")->check(CLI::IsMember(runtime::builtin_models()));
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
