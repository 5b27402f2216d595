// shapejit precompile: compile a model's kernel set (or a manifest's) into the cache database.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "progress_bar.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/op_registry.hpp"
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

runtime::DeviceInfo choose_target(const PrecompileArgs& a) {
  runtime::DeviceInfo target = runtime::default_target_device();
  if (a.arch.empty() && a.num_sms == 0 && runtime::driver_available()) target = runtime::current_device();
  if (!a.arch.empty()) target.arch = a.arch;
  if (a.num_sms > 0) target.num_sms = a.num_sms;
  return target;
}

void run_precompile(const PrecompileArgs& a) {
  const runtime::DeviceInfo target = choose_target(a);
  std::vector<jit::KernelSpec> specs;
  if (!a.manifest.empty()) {
    specs = runtime::load_manifest(a.manifest, target).specs;
  } else {
    specs = runtime::deepseek_v3_specs(target);
  }

  runtime::RuntimeOptions options;
  options.cache_path = a.cache;
  options.jobs = a.jobs > 0 ? a.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.compile_in_process = a.in_process;
  options.compile_timeout_s = a.timeout_s;
  runtime::Runtime rt(options);

  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar(static_cast<long long>(specs.size()), !a.json && stderr_is_terminal());
  std::atomic<size_t> next{0};
  std::atomic<long long> done{0}, hits{0}, compiled{0}, failed{0};
  std::mutex mutex;
  std::vector<double> compile_ms;
  std::vector<std::string> failures;

  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < specs.size();) {
      const std::string name = specs[i].canonical();
      try {
        const runtime::CubinLookup r = rt.fetch(specs[i]);
        if (r.source == runtime::CubinSource::compiled) {
          ++compiled;
          std::lock_guard lock(mutex);
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
  std::vector<std::thread> threads;
  for (int t = 0; t < options.jobs; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  bar.finish();

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(compile_ms.begin(), compile_ms.end());
  const double median = compile_ms.empty() ? 0.0 : compile_ms[compile_ms.size() / 2];
  for (const auto& f : failures) std::cerr << "failed: " << f << "\n";
  const runtime::RuntimeStats stats = rt.stats();
  if (a.json) {
    nlohmann::json out = {{"compiled", compiled.load()},   {"hits", hits.load()},
                          {"failed", failed.load()},       {"total", specs.size()},
                          {"seconds", seconds},            {"median_compile_ms", median},
                          {"arch", target.arch},           {"num_sms", target.num_sms},
                          {"cache", stats.cache_status},
                          {"cache_corrupt", stats.cache_corrupt},
                          {"cache_bypasses", stats.cache_bypasses}};
    std::cout << out.dump() << std::endl;
  } else {
    std::cout << "precompiled " << specs.size() << " kernels for " << target.arch << " ("
              << target.num_sms << " SMs) in " << seconds << " s: " << compiled << " compiled, "
              << hits << " cache hits, " << failed << " failed; median compile " << median
              << " ms\ncache: " << stats.cache_status << "\n";
  }
  if (failed) throw ExitCode{kExitFailure};
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
  cmd->add_option("-j,--jobs", a->jobs, "parallel compiles (default: number of cores)");
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
