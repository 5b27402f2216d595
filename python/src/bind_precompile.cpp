// Pre-compilation from Python: shapejit::runtime::precompile over a spec list, a manifest or a
// built-in model's kernel set, with the GIL released while the kernels compile.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/precompile.hpp"

namespace shapejit::python {

void bind_precompile(nb::module_& m) {
  m.def("precompile",
        [](const std::vector<std::string>& specs, std::optional<std::string> cache_path, bool compile_in_process,
           int compile_timeout_s, int jobs, std::optional<std::string> compile_worker) {
          runtime::PrecompileOptions o;
          if (cache_path) o.runtime.cache_path = *cache_path;
          if (compile_worker) o.runtime.compile_worker = *compile_worker;
          o.runtime.compile_in_process = compile_in_process;
          o.runtime.compile_timeout_s = compile_timeout_s;
          o.runtime.jobs = jobs;
          runtime::PrecompileResult r;
          {
            nb::gil_scoped_release unlocked;
            std::vector<jit::KernelSpec> parsed;
            parsed.reserve(specs.size());
            for (const auto& s : specs) parsed.push_back(jit::resolve_spec(s));
            r = runtime::precompile(parsed, o);
          }
          nb::dict d;
          d["total"] = r.total;
          d["compiled"] = r.compiled;
          d["cache_hits"] = r.cache_hits;
          nb::list failures;
          for (const auto& f : r.failures) {
            nb::dict x;
            x["spec"] = f.spec;
            x["code"] = f.code ? nb::object(nb::str(to_string(*f.code))) : nb::none();
            x["message"] = f.message;
            failures.append(x);
          }
          d["failures"] = failures;
          d["not_stored"] = r.not_stored;
          d["cache_damaged"] = r.cache_damaged;
          d["seconds"] = r.seconds;
          d["median_compile_ms"] = r.median_compile_ms;
          d["cache_path"] = r.cache_path.string();
          d["ok"] = r.ok();
          return d;
        },
        nb::arg("specs"), nb::arg("cache_path") = nb::none(), nb::arg("compile_in_process") = false,
        nb::arg("compile_timeout_s") = 300, nb::arg("jobs") = 0, nb::arg("compile_worker") = nb::none(),
        "Compiles every spec not yet in the cache database, in parallel (runtime::precompile); one kernel's "
        "failure is recorded, never raised. Use shapejit.precompile.");
}

}  // namespace shapejit::python
