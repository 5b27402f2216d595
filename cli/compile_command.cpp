// shapejit compile SPEC --emit ptx|cubin|log: compile one kernel and show what came out.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

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
  bool json = false;
  int timeout_s = 120;
};

nlohmann::json report_json(const jit::KernelSpec& spec, const jit::CompileResult& r, const CompileArgs& a) {
  return {{"spec", spec.canonical()},
          {"named", jit::describe_spec(spec)},
          {"key", jit::compile_key(spec)},
          {"entry", r.lowered_name},
          {"registers", r.registers},
          {"spill_store_bytes", r.spill_store_bytes},
          {"spill_load_bytes", r.spill_load_bytes},
          {"stack_frame_bytes", r.stack_frame_bytes},
          {"static_smem_bytes", r.static_smem_bytes},
          {"cubin_bytes", r.cubin.size()},
          {"compile_ms", r.compile_ms},
          {"log", r.log},
          {"emit", a.emit},
          {"output", a.output.empty() ? nlohmann::json() : nlohmann::json(a.output)}};
}

// What --emit asks for, as the bytes to write.
std::string emitted(const jit::KernelSpec& spec, const jit::CompileResult& r, const std::string& emit) {
  if (emit == "ptx") return r.ptx;
  if (emit == "cubin") return std::string(r.cubin.begin(), r.cubin.end());
  std::ostringstream out;
  out << r.log << (r.log.empty() || r.log.back() == '\n' ? "" : "\n")
      << "spec:          " << spec.canonical() << "\n"
      << "parameters:    " << jit::describe_spec(spec) << "\n"
      << "key:           " << jit::compile_key(spec) << "\n"
      << "entry:         " << r.lowered_name << "\n"
      << "registers:     " << r.registers << "\n"
      << "spill bytes:   " << r.spill_store_bytes << " stores, " << r.spill_load_bytes << " loads\n"
      << "stack frame:   " << r.stack_frame_bytes << " bytes\n"
      << "static smem:   " << r.static_smem_bytes << " bytes\n"
      << "cubin:         " << r.cubin.size() << " bytes\n"
      << "compile time:  " << r.compile_ms << " ms\n";
  return out.str();
}

// A short write (full disk, closed pipe, quota) is a failed command, not a truncated result.
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) fail(Errc::io, "cannot write " + path + ": " + std::strerror(errno));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) fail(Errc::io, "cannot write " + path + ": " + std::strerror(errno));
}

void write_stdout(const std::string& bytes) {
  std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::cout.flush();
  if (!std::cout) fail(Errc::io, std::string("cannot write to standard output: ") + std::strerror(errno));
}

void run_compile(const CompileArgs& a) {
  // Unknown kernel, a value its definition does not allow, an unknown arch or option: exit 2
  // before anything compiles.
  const jit::KernelSpec spec = jit::resolve_spec(a.spec);
  if (a.json && a.emit != "log" && a.output.empty())
    fail(Errc::invalid_argument, "--json prints the report on stdout: give -o FILE for --emit " + a.emit);
  if (a.emit == "cubin" && a.output.empty() && ::isatty(1))
    fail(Errc::invalid_argument, "--emit cubin writes binary: give -o FILE or redirect stdout");
  const bool want_ptx = a.emit == "ptx";
  jit::CompileResult r;
  if (a.in_process) {
    r = jit::compile_in_process(spec, want_ptx);
  } else {
    jit::WorkerPool pool({.max_workers = 1, .timeout_s = a.timeout_s, .worker_path = {}});
    r = pool.compile(spec, want_ptx);
  }
  if (!a.output.empty()) write_file(a.output, emitted(spec, r, a.emit));
  if (a.json)
    write_stdout(report_json(spec, r, a).dump() + "\n");
  else if (a.output.empty())
    write_stdout(emitted(spec, r, a.emit));
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
  cmd->add_flag("--json", args->json, "print the report (entry, resources, log) as one JSON object");
  cmd->add_option("--timeout", args->timeout_s, "compile time limit in seconds")->check(CLI::PositiveNumber);
  cmd->callback([args] { run_compile(*args); });
}

}  // namespace shapejit::cli
