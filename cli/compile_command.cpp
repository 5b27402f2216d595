// shapejit compile SPEC --emit ptx|cubin|log: compile one kernel and show what came out.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compile_key.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/worker_pool.hpp"

namespace shapejit::cli {
namespace {

struct CompileArgs {
  std::string spec;
  std::string emit = "log";
  std::string output;
  bool in_process = false;
  int timeout_s = 120;
};

void run_compile(const CompileArgs& a) {
  // Unknown kernel, a value its definition does not allow, an unknown arch or option: exit 2
  // before anything compiles.
  const jit::KernelSpec spec = jit::resolve_spec(a.spec);
  const bool want_ptx = a.emit == "ptx";
  jit::CompileResult r;
  if (a.in_process) {
    r = jit::compile_in_process(spec, want_ptx);
  } else {
    jit::WorkerPool pool({.max_workers = 1, .timeout_s = a.timeout_s});
    r = pool.compile(spec, want_ptx);
  }
  std::ofstream file;
  if (!a.output.empty()) {
    file.open(a.output, std::ios::binary);
    if (!file) fail(Errc::io, "cannot write " + a.output);
  }
  std::ostream& out = a.output.empty() ? std::cout : file;
  if (a.emit == "ptx") {
    out << r.ptx;
  } else if (a.emit == "cubin") {
    if (a.output.empty() && ::isatty(1))
      fail(Errc::invalid_argument, "--emit cubin writes binary: give -o FILE or redirect stdout");
    out.write(reinterpret_cast<const char*>(r.cubin.data()), static_cast<std::streamsize>(r.cubin.size()));
  } else {
    out << r.log << (r.log.empty() || r.log.back() == '\n' ? "" : "\n")
        << "spec:          " << spec.canonical() << "\n"
        << "key:           " << jit::compile_key(spec) << "\n"
        << "entry:         " << r.lowered_name << "\n"
        << "registers:     " << r.registers << "\n"
        << "spill bytes:   " << r.spill_store_bytes << " stores, " << r.spill_load_bytes << " loads\n"
        << "stack frame:   " << r.stack_frame_bytes << " bytes\n"
        << "static smem:   " << r.static_smem_bytes << " bytes\n"
        << "cubin:         " << r.cubin.size() << " bytes\n"
        << "compile time:  " << r.compile_ms << " ms\n";
  }
}

}  // namespace

void add_compile_command(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand("compile", "Compile one kernel spec and emit its PTX, cubin or log");
  cmd->add_option("spec", args->spec, "family/kernel<args>@arch[;option...]")->required();
  cmd->add_option("--emit", args->emit, "what to write: ptx, cubin or log (log + resource report)")
      ->check(CLI::IsMember({"ptx", "cubin", "log"}));
  cmd->add_option("-o,--output", args->output, "write to FILE instead of stdout");
  cmd->add_flag("--in-process", args->in_process, "compile in this process, not a worker process");
  cmd->add_option("--timeout", args->timeout_s, "compile time limit in seconds")->check(CLI::PositiveNumber);
  cmd->callback([args] { run_compile(*args); });
}

}  // namespace shapejit::cli
