// shapejit tune: run or resume an autotuning session (runtime/tuning), and its ls/show/report
// subcommands (tune_records_command.cpp).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cache_open.hpp"
#include "commands.hpp"
#include "cublaslt_gemm.hpp"
#include "progress_bar.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tuning.hpp"
#include "tune_commands.hpp"

namespace shapejit::cli {
namespace {

namespace tuning = runtime::tuning;

struct TuneArgs {
  std::string model, manifest, resume, cache, arch, budget, ops, sms;
  int max_candidates = 0, num_sms = 0, jobs = 0, runs = 20, timeout_s = 300;
  bool json = false, wide = false, cuda_graph = false, in_process = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(Errc::invalid_argument, "tune: cannot read the manifest " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The target: this GPU (with --num-sms as the SM limit), else the default Hopper target.
runtime::DeviceInfo choose_target(const TuneArgs& a) {
  runtime::DeviceInfo d = runtime::default_target_device();
  if (runtime::driver_available()) d = runtime::current_device();
  if (!a.arch.empty()) {
    jit::check_arch(a.arch);
    d.arch = a.arch;
  }
  if (a.num_sms > 0) {
    if (d.num_sms > 0 && runtime::driver_available() && a.num_sms > d.num_sms)
      fail(Errc::invalid_argument, "tune: --num-sms " + std::to_string(a.num_sms) + " exceeds the device's " +
                                       std::to_string(d.num_sms) + " SMs");
    d.num_sms = a.num_sms;
  }
  return d;
}

void print_result(const tuning::SessionResult& r, bool json) {
  if (json) {
    std::cout << nlohmann::json{{"session", r.id},
                                {"state", r.state},
                                {"unmeasured_reason", r.unmeasured_reason},
                                {"shapes", r.shapes},
                                {"candidates", r.candidates},
                                {"rejected_by_rules", r.rejected_by_rules},
                                {"narrowed", r.narrowed},
                                {"compiled", r.compiled},
                                {"pruned", r.pruned},
                                {"rejected", r.rejected},
                                {"measured", r.measured},
                                {"unmeasured", r.unmeasured},
                                {"winners", r.winners},
                                {"reused", r.reused},
                                {"already_recorded", r.already_recorded},
                                {"compile_seconds", r.compile_seconds},
                                {"measure_seconds", r.measure_seconds}}
                     .dump()
              << std::endl;
    return;
  }
  std::cout << "session " << r.id << " (" << r.state << "): " << r.shapes << " shapes, " << r.candidates
            << " candidates (" << r.rejected_by_rules << " combinations refused by the definitions' rules, never compiled; "
            << r.narrowed << " valid ones left out by --wide/--max-candidates)\n"
            << "  compiled " << r.compiled << ", pruned " << r.pruned << ", rejected " << r.rejected << ", measured "
            << r.measured << ", not measured " << r.unmeasured << ", winners " << r.winners << "\n"
            << "  reused from other sessions " << r.reused << ", recorded before (resume) " << r.already_recorded
            << "\n  compile phase " << r.compile_seconds << " s, measure phase " << r.measure_seconds << " s\n"
            << "  see: shapejit tune show " << r.id << "\n";
}

void run_tune(const TuneArgs& a) {
  tuning::SessionRequest request;
  if (a.resume.empty()) {
    if (a.model.empty() && a.manifest.empty())
      throw CLI::RequiredError("tune needs --model deepseek-v3, --manifest FILE or --resume ID");
    request.model = a.model;
    if (!a.manifest.empty()) request.manifest_json = read_file(a.manifest);
    request.ops = split(a.ops);
    if (!a.budget.empty()) request.budget_s = parse_duration(a.budget);
    request.space.max_candidates = a.max_candidates;
    request.space.wide = a.wide;
    for (const std::string& s : split(a.sms)) {
      try {
        request.space.sm_counts.push_back(std::stoi(s));
      } catch (const std::exception&) {
        fail(Errc::invalid_argument, "tune: --sms takes SM counts separated by commas, got '" + s + "'");
      }
    }
    request.runs = a.runs;
  }
  const runtime::DeviceInfo target = choose_target(a);

  runtime::RuntimeOptions options;
  options.cache_path = cache_path(a.cache);
  options.jobs = a.jobs > 0 ? a.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.compile_in_process = a.in_process;
  options.compile_timeout_s = a.timeout_s;
  options.use_tuning_records = false;   // candidates are forced; records must not steer them
  options.num_sms = a.num_sms;           // the measured calls see the SMs the records are for
  runtime::Runtime rt(options);
  auto store = open_cache(options.cache_path, CacheAccess::create);

  tuning::GpuMeasureOptions mo;
  mo.cuda_graph = a.cuda_graph;
  mo.gemm_reference = cublaslt_gemm_reference();
  std::unique_ptr<tuning::Measurer> measurer = tuning::make_gpu_measurer(rt, mo);

  tuning::SessionOptions so;
  so.resume = a.resume;
  so.runtime = &rt;
  so.measurer = measurer.get();
  so.jobs = options.jobs;
  std::unique_ptr<ProgressBar> bar;
  std::string phase;
  const bool show = !a.json && stderr_is_terminal();
  so.on_progress = [&](const tuning::Progress& p) {
    if (p.phase != phase) {
      if (bar) bar->finish();
      phase = p.phase;
      bar = std::make_unique<ProgressBar>(p.total, show);
    }
    bar->update(p.done, p.phase + ": " + p.current);
  };
  const tuning::SessionResult r = tuning::run_session(*store, request, target, so);
  if (bar) bar->finish();
  print_result(r, a.json);
  if (r.state == "cpu_only") {
    std::cerr << "shapejit: tune: nothing was measured (" << r.unmeasured_reason << ")"
              << "; the CPU phase is recorded (resume on a GPU with --resume " << r.id << ")\n";
    throw ExitCode{kExitFailure};
  }
}

}  // namespace

double parse_duration(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  const double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
  if (used == 0 || scale < 0 || v <= 0)
    fail(Errc::invalid_argument, "tune: --budget takes a positive duration such as 90s, 8m or 1h, got '" + text + "'");
  return v * scale;
}

void add_tune_command(CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  auto* cmd = app.add_subcommand("tune", "Autotune kernel configurations; every outcome is kept in the cache database");
  cmd->require_subcommand(0, 1);
  auto* model = cmd->add_option("--model", a->model, "built-in shape set")->check(CLI::IsMember({"deepseek-v3"}));
  auto* manifest = cmd->add_option("--manifest", a->manifest, "JSON manifest of op shapes (the precompile format)");
  auto* resume = cmd->add_option("--resume", a->resume, "resume a session by id (redoes nothing recorded)");
  model->excludes(manifest);
  resume->excludes(model)->excludes(manifest);
  auto* ops = cmd->add_option("--ops", a->ops, "ops to tune, comma-separated (default: every tunable op)");
  auto* budget = cmd->add_option("--budget", a->budget, "wall-clock limit of the GPU phase, e.g. 8m (resume to continue)");
  auto* max_candidates = cmd->add_option("--max-candidates", a->max_candidates, "per shape, the baseline included (default: all)")
      ->check(CLI::PositiveNumber);
  auto* sms = cmd->add_option("--sms", a->sms, "SM counts to try as a tuning dimension, comma-separated (default: the target's)");
  auto* wide = cmd->add_flag("--wide", a->wide, "every stage count and output swizzle, not only the deepest and widest");
  cmd->add_flag("--cuda-graph", a->cuda_graph, "time decode-sized shapes (M <= 128) as CUDA-graph launches");
  auto* runs = cmd->add_option("--runs", a->runs, "timed runs per candidate")->check(CLI::Range(5, 1000));
  // A resumed session keeps its own request (stored with it).
  for (CLI::Option* o : {ops, budget, max_candidates, sms, wide, runs}) resume->excludes(o);
  cmd->add_option("--arch", a->arch, "target arch (default: this GPU, else sm_90a)");
  cmd->add_option("--num-sms", a->num_sms, "SMs the kernels may use (default: this GPU's, else 132)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-j,--jobs", a->jobs, "parallel compiles (default: number of cores)")->check(CLI::PositiveNumber);
  cmd->add_option("--cache", a->cache, "cache database (default: $XDG_CACHE_HOME/shapejit/kernels.db)");
  cmd->add_flag("--in-process", a->in_process, "compile in this process instead of worker processes");
  cmd->add_option("--timeout", a->timeout_s, "per-kernel compile time limit, seconds")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "print one JSON summary line instead of text");
  add_tune_record_commands(*cmd, a->cache);
  cmd->callback([a, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    run_tune(*a);
  });
}

}  // namespace shapejit::cli
