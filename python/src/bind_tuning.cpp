// Autotuning from Python (runtime/tuning, docs/tuning.md): run or resume a session, list the
// sessions of a database, and a session's report. What `shapejit tune` does, with the GIL
// released while candidates compile and run.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bindings.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tuning.hpp"

namespace shapejit::python {
namespace {

namespace tuning = runtime::tuning;

std::filesystem::path path_or_default(const std::optional<std::string>& path) {
  return path ? std::filesystem::path(*path) : runtime::default_cache_path();
}

// The target: this GPU (num_sms as its SM limit), else the default Hopper target.
runtime::DeviceInfo tune_target(const std::optional<std::string>& arch, int num_sms) {
  runtime::DeviceInfo d = runtime::driver_available() ? runtime::current_device() : runtime::default_target_device();
  if (arch) {
    jit::check_arch(*arch);
    d.arch = *arch;
  }
  if (num_sms > 0) {
    if (runtime::driver_available() && num_sms > d.num_sms)
      fail(Errc::invalid_argument, "num_sms " + std::to_string(num_sms) + " exceeds the device's " +
                                       std::to_string(d.num_sms) + " SMs");
    d.num_sms = num_sms;
  }
  return d;
}

nb::dict result_dict(const tuning::SessionResult& r) {
  nb::dict d;
  d["session"] = r.id;
  d["state"] = r.state;
  d["unmeasured_reason"] = r.unmeasured_reason;
  d["shapes"] = r.shapes;
  d["candidates"] = r.candidates;
  d["rejected_by_rules"] = r.rejected_by_rules;
  d["narrowed"] = r.narrowed;
  d["compiled"] = r.compiled;
  d["pruned"] = r.pruned;
  d["rejected"] = r.rejected;
  d["measured"] = r.measured;
  d["unmeasured"] = r.unmeasured;
  d["winners"] = r.winners;
  d["reused"] = r.reused;
  d["already_recorded"] = r.already_recorded;
  d["compile_seconds"] = r.compile_seconds;
  d["measure_seconds"] = r.measure_seconds;
  return d;
}

}  // namespace

void bind_tuning(nb::module_& m) {
  m.def("tune",
        [](std::vector<std::string> ops, std::optional<std::string> model, std::optional<std::string> manifest_json,
           std::optional<std::string> resume, double budget_s, int max_candidates, bool wide,
           std::vector<int> sm_counts, int runs, std::optional<std::string> cache_path, std::optional<std::string> arch,
           int num_sms, int jobs, bool cuda_graph, bool compile_in_process, int compile_timeout_s) {
          tuning::SessionRequest request;
          if (!resume) {
            if (!model && !manifest_json) fail(Errc::invalid_argument, "tune needs model, manifest or resume");
            if (model) request.model = *model;
            if (manifest_json) request.manifest_json = *manifest_json;
            request.ops = std::move(ops);
            if (budget_s < 0) fail(Errc::invalid_argument, "budget_s must be >= 0 (0: no limit)");
            request.budget_s = budget_s;
            request.space.max_candidates = max_candidates;
            request.space.wide = wide;
            request.space.sm_counts = std::move(sm_counts);
            request.runs = runs;
          }
          tuning::SessionResult r;
          {
            nb::gil_scoped_release unlocked;
            const runtime::DeviceInfo target = tune_target(arch, num_sms);
            runtime::RuntimeOptions options;
            options.cache_path = path_or_default(cache_path);
            options.jobs = jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
            options.compile_in_process = compile_in_process;
            options.compile_timeout_s = compile_timeout_s;
            options.use_tuning_records = false;   // candidates are forced; records must not steer them
            runtime::Runtime rt(options);
            cache::KernelStore store(options.cache_path);
            if (!store.writable())
              fail(Errc::cache, "tune needs a writable kernel database: " + store.status());
            tuning::GpuMeasureOptions mo;
            mo.cuda_graph = cuda_graph;
            std::unique_ptr<tuning::Measurer> measurer = tuning::make_gpu_measurer(rt, mo);
            tuning::SessionOptions so;
            if (resume) so.resume = *resume;
            so.runtime = &rt;
            so.measurer = measurer.get();
            so.jobs = options.jobs;
            r = tuning::run_session(store, request, target, so);
          }
          return result_dict(r);
        },
        nb::arg("ops") = std::vector<std::string>{}, nb::arg("model") = nb::none(), nb::arg("manifest_json") = nb::none(),
        nb::arg("resume") = nb::none(), nb::arg("budget_s") = 0.0, nb::arg("max_candidates") = 0,
        nb::arg("wide") = false, nb::arg("sm_counts") = std::vector<int>{}, nb::arg("runs") = 20,
        nb::arg("cache_path") = nb::none(), nb::arg("arch") = nb::none(), nb::arg("num_sms") = 0, nb::arg("jobs") = 0,
        nb::arg("cuda_graph") = false, nb::arg("compile_in_process") = false, nb::arg("compile_timeout_s") = 300,
        "Runs or resumes an autotuning session; see shapejit.tune.");
  m.def("tune_sessions",
        [](std::optional<std::string> cache_path) {
          std::vector<cache::TuningSession> sessions;
          {
            nb::gil_scoped_release unlocked;
            cache::StoreOptions o;
            o.create = false;
            cache::KernelStore store(path_or_default(cache_path), o);
            if (!store.persistent()) fail(Errc::cache, "cannot use the kernel database: " + store.status());
            sessions = tuning::list_sessions(store);
          }
          nb::list out;
          for (const auto& s : sessions) {
            nb::dict d;
            d["id"] = s.id;
            d["state"] = s.state;
            d["created"] = s.created;
            d["updated"] = s.updated;
            d["device"] = s.device;
            d["request_json"] = s.request_json;
            d["summary_json"] = s.summary_json;
            out.append(d);
          }
          return out;
        },
        nb::arg("cache_path") = nb::none(), "The tuning sessions of a database.");
  m.def("tune_report",
        [](const std::string& session, std::optional<std::string> cache_path, const std::string& format) {
          if (format != "json" && format != "svg")
            fail(Errc::invalid_argument, "format must be 'json' or 'svg', got '" + format + "'");
          nb::gil_scoped_release unlocked;
          cache::StoreOptions o;
          o.create = false;
          cache::KernelStore store(path_or_default(cache_path), o);
          if (!store.persistent()) fail(Errc::cache, "cannot use the kernel database: " + store.status());
          const auto records = tuning::session_records(store, session);
          return format == "json" ? tuning::report_json(session, records) : tuning::report_svg(session, records);
        },
        nb::arg("session"), nb::arg("cache_path") = nb::none(), nb::arg("format") = "json",
        "A session's report as JSON text or an SVG picture.");
}

}  // namespace shapejit::python
