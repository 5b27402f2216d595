// Runtime (kernel provider: memory → cache database → compile), its options, device facts, and
// the spec lists a precompile works from. Compiles release the GIL.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/precompile.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::python {
namespace {

using runtime::Runtime;

const char* source_name(runtime::CubinSource s) {
  switch (s) {
    case runtime::CubinSource::memory: return "memory";
    case runtime::CubinSource::cache: return "cache";
    case runtime::CubinSource::compiled: return "compiled";
  }
  return "?";
}

nb::dict device_dict(const runtime::DeviceInfo& d) {
  nb::dict out;
  out["ordinal"] = d.ordinal;
  out["name"] = d.name;
  out["cc"] = nb::make_tuple(d.cc_major, d.cc_minor);
  out["arch"] = d.arch;
  out["num_sms"] = d.num_sms;
  out["max_smem_per_block_optin"] = d.max_smem_per_block_optin;
  out["l2_bytes"] = d.l2_bytes;
  out["total_memory"] = d.total_memory;
  out["driver_version"] = d.driver_version;
  return out;
}

// The device kernels are specialized for: arch/num_sms when given (on the default Hopper
// target), else the current device when a driver is present, else the default target.
runtime::DeviceInfo choose_target(const std::optional<std::string>& arch, const std::optional<int>& num_sms) {
  if (!arch && !num_sms && runtime::driver_available()) return runtime::current_device();
  runtime::DeviceInfo t = runtime::default_target_device();
  if (arch) {
    jit::check_arch(*arch);
    t.arch = *arch;
  }
  if (num_sms) {
    if (*num_sms <= 0) fail(Errc::invalid_argument, "num_sms must be positive, got " + std::to_string(*num_sms));
    t.num_sms = *num_sms;
  }
  return t;
}

std::vector<std::string> canonical(const std::vector<jit::KernelSpec>& specs) {
  std::vector<std::string> out;
  out.reserve(specs.size());
  for (const auto& s : specs) out.push_back(s.canonical());
  return out;
}

}  // namespace

void bind_runtime(nb::module_& m) {
  nb::class_<Runtime>(m, "Runtime",
                      "Turns kernel specs into loaded kernels: in-memory handles, then the cache database, then a "
                      "compile (one per key, however many threads ask). Every op takes `runtime=`; the default is "
                      "Runtime.global_runtime().")
      .def("__init__",
           [](Runtime* self, std::optional<std::string> cache_path, bool use_cache, bool compile_in_process,
              int compile_timeout_s, int jobs, int num_sms, std::optional<std::string> compile_worker,
              bool use_tuning_records) {
             runtime::RuntimeOptions o;
             o.use_tuning_records = use_tuning_records;
             if (cache_path) o.cache_path = *cache_path;
             if (compile_worker) o.compile_worker = *compile_worker;
             o.use_cache = use_cache;
             o.compile_in_process = compile_in_process;
             o.compile_timeout_s = compile_timeout_s;
             o.jobs = jobs;
             o.num_sms = num_sms;
             new (self) Runtime(o);
           },
           nb::arg("cache_path") = nb::none(), nb::arg("use_cache") = true, nb::arg("compile_in_process") = false,
           nb::arg("compile_timeout_s") = 120, nb::arg("jobs") = 0, nb::arg("num_sms") = 0,
           nb::arg("compile_worker") = nb::none(), nb::arg("use_tuning_records") = true,
           "cache_path: the kernel database (None: default_cache_path()); use_cache=False compiles into memory "
           "only; compile_in_process=False compiles in worker processes (an NVRTC crash costs one compile, not "
           "the interpreter); jobs: worker processes (0: one per core); num_sms: SMs the kernels may use (0: all); "
           "compile_worker: the shapejit-compile-worker to run (None: the one beside this module); "
           "use_tuning_records: the database's tuned winners go before the GEMM heuristic.")
      .def_static("global_runtime", &Runtime::global, nb::rv_policy::reference,
                  "The process-wide runtime with default options (what ops use without runtime=).")
      .def_prop_ro("options",
                   [](const Runtime& r) {
                     const auto& o = r.options();
                     nb::dict d;
                     d["cache_path"] = o.cache_path.string();
                     d["use_cache"] = o.use_cache;
                     d["compile_in_process"] = o.compile_in_process;
                     d["compile_timeout_s"] = o.compile_timeout_s;
                     d["jobs"] = o.jobs;
                     d["num_sms"] = o.num_sms;
                     d["compile_worker"] = o.compile_worker.string();
                     d["use_tuning_records"] = o.use_tuning_records;
                     return d;
                   },
                   "The options the runtime was made with, as a dict.")
      .def_prop_rw("num_sms", &Runtime::num_sms, &Runtime::set_num_sms,
                   "SMs this runtime's kernels may use (0: all), e.g. to leave SMs to communication kernels. "
                   "Part of the specs a call picks.")
      .def("stats",
           [](const Runtime& r) {
             const runtime::RuntimeStats s = r.stats();
             nb::dict d;
             d["memory_hits"] = s.memory_hits;
             d["cache_hits"] = s.cache_hits;
             d["compiles"] = s.compiles;
             d["compile_failures"] = s.compile_failures;
             d["loads"] = s.loads;
             d["cache_misses"] = s.cache_misses;
             d["cache_corrupt"] = s.cache_corrupt;
             nb::dict bypasses;
             for (const auto& [k, v] : s.cache_bypasses) bypasses[k.c_str()] = v;
             d["cache_bypasses"] = bypasses;
             d["cache_status"] = s.cache_status;
             return d;
           },
           "Counters since the runtime was made: memory_hits, cache_hits, compiles, compile_failures, loads, "
           "cache_misses, cache_corrupt, cache_bypasses (reason -> count), cache_status.")
      .def("compile",
           [](Runtime& r, const std::string& spec_text) {
             runtime::CubinLookup found;
             std::string canonical_text;
             {
               nb::gil_scoped_release unlocked;
               const jit::KernelSpec spec = jit::resolve_spec(spec_text);
               canonical_text = spec.canonical();
               found = r.fetch(spec);
             }
             nb::dict d;
             d["spec"] = canonical_text;
             d["key"] = found.key;
             d["source"] = source_name(found.source);
             d["cubin_bytes"] = found.result->cubin.size();
             d["registers"] = found.result->registers;
             d["spill_store_bytes"] = found.result->spill_store_bytes;
             d["spill_load_bytes"] = found.result->spill_load_bytes;
             d["static_smem_bytes"] = found.result->static_smem_bytes;
             d["compile_ms"] = found.result->compile_ms;
             d["log"] = found.result->log;
             return d;
           },
           nb::arg("spec"),
           "The cubin of one kernel spec (canonical or named form), from memory, the cache database or a fresh "
           "compile; works without a GPU. Returns a dict: spec (canonical), key, source "
           "('memory'|'cache'|'compiled'), cubin_bytes, registers, spills, static_smem_bytes, compile_ms, log. "
           "Raises CompileError (with .spec and .log) when NVRTC rejects it. Releases the GIL.");

  m.def("compile_worker_path",
        [](std::optional<std::string> configured) {
          runtime::RuntimeOptions o;
          if (configured) o.compile_worker = *configured;
          return runtime::compile_worker_path(o).string();
        },
        nb::arg("compile_worker") = nb::none(),
        "The compile worker a Runtime would start (the one shipped beside this module unless "
        "compile_worker or $SHAPEJIT_COMPILE_WORKER names another); raises Unsupported listing where it looked.");
  m.def("default_cache_path", [] { return runtime::default_cache_path().string(); },
        "$SHAPEJIT_CACHE, else $XDG_CACHE_HOME/shapejit/kernels.db, else ~/.cache/shapejit/kernels.db.");
  m.def("driver_available",
        [] {
          std::string why;
          const bool ok = runtime::driver_available(&why);
          return std::make_pair(ok, why);
        },
        "(True, '') when a CUDA driver and device can be used, else (False, why). Never raises.");
  m.def("current_device", [] { return device_dict(runtime::current_device()); },
        "Facts about the current device (arch, SMs, shared memory, ...). Raises NoDriver without one.");
  m.def("default_target_device", [] { return device_dict(runtime::default_target_device()); },
        "The target used without a device: Hopper H100/H800 SXM (sm_90a, 132 SMs).");
  m.def("resolve_spec", [](const std::string& text) { return jit::resolve_spec(text).canonical(); },
        nb::arg("spec"), "A spec in canonical or named form -> its canonical text (raises InvalidArgument).");
  m.def("describe_spec", [](const std::string& text) { return jit::describe_spec(text); }, nb::arg("spec"),
        "A canonical spec with its parameters named, for display.");
  m.def("kernel_specs",
        [](std::optional<std::string> manifest_json, std::optional<std::string> manifest_path,
           std::optional<std::string> model, std::optional<std::string> arch, std::optional<int> num_sms) {
          const int given = int(bool(manifest_json)) + int(bool(manifest_path)) + int(bool(model));
          if (given != 1)
            fail(Errc::invalid_argument, "give exactly one of manifest (JSON text or dict), manifest_path, model");
          nb::gil_scoped_release unlocked;
          const runtime::DeviceInfo target = choose_target(arch, num_sms);
          if (model) {
            return canonical(runtime::model_kernel_set(*model, target));
          }
          if (manifest_path) return canonical(runtime::load_manifest(*manifest_path, target).specs);
          return canonical(runtime::parse_manifest(*manifest_json, target, "manifest").specs);
        },
        nb::arg("manifest_json") = nb::none(), nb::arg("manifest_path") = nb::none(), nb::arg("model") = nb::none(),
        nb::arg("arch") = nb::none(), nb::arg("num_sms") = nb::none(),
        "The canonical kernel specs of a manifest (the JSON format of `shapejit precompile --manifest`) or of a "
        "built-in model's kernel set, for the target: arch/num_sms if given, else the current device, else "
        "the default Hopper target.");
  m.def("op_families",
        [] {
          std::vector<std::pair<std::string, std::string>> out;
          for (const auto& f : runtime::op_families()) out.emplace_back(std::string(f.op), std::string(f.summary));
          return out;
        },
        "(op, summary) of every manifest operator.");
}

}  // namespace shapejit::python
