#pragma once
// The pieces of the _shapejit extension, one binder per area (module.cpp calls them in order).
#include <nanobind/nanobind.h>

namespace shapejit::python {

namespace nb = nanobind;

void bind_errors(nb::module_& m);    // maps shapejit::Error onto shapejit.errors
void bind_runtime(nb::module_& m);   // Runtime, RuntimeOptions, device facts, compile
void bind_precompile(nb::module_& m);   // runtime::precompile
void bind_cache(nb::module_& m);
void bind_tuning(nb::module_& m);    // autotuning sessions and reports     // kernel database: stats, ls, verify
void bind_planner(nb::module_& m);   // EPLB, pipeline schedules + simulation, overlap chooser
void bind_gemm(nb::module_& m);      // FP8 quantization, FP8/BF16 GEMM, grouped GEMMs
void bind_mla(nb::module_& m);       // MLA decode metadata + decode
void bind_moe(nb::module_& m);       // the MoE layer and its steps
void bind_reference(nb::module_& m); // host references of the ops (for tests)

}  // namespace shapejit::python
