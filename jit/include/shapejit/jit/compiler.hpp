#pragma once
// The compile pipeline for one spec: catalog lookup → rendered translation unit → NVRTC →
// cubin (+ PTX on request) with the ptxas resource report. Failures throw CompileError
// carrying the spec and the NVRTC log.
#include <string>
#include <vector>

#include "shapejit/jit/compile_result.hpp"
#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

// The translation unit NVRTC compiles for a spec (validated against the catalog).
struct RenderedSource {
  std::string source;            // #include of the kernel's header
  std::string name_expression;   // "&shapejit::kernels::kernel<args>"
  std::vector<std::string> options;   // complete NVRTC option list, base options first
};
RenderedSource render(const KernelSpec& spec);

// The options every compile gets, before the spec's own.
std::vector<std::string> base_compile_options(const std::string& arch);

// Compiles in this process. Thread-safe. Use compile_isolated() (worker_pool.hpp) where a
// compiler crash must not take the process down.
CompileResult compile_in_process(const KernelSpec& spec, bool want_ptx);

// NVRTC's version and build identity, e.g. "13.0 (CL-36424714)"; computed once per process.
const std::string& nvrtc_identity();

// Parses the ptxas verbose report for the given entry (mangled name) into result's figures.
void parse_ptxas_report(const std::string& log, const std::string& lowered_name,
                        CompileResult& result);

}  // namespace shapejit::jit
