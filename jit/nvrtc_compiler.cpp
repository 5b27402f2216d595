#include <chrono>
#include <mutex>
#include <regex>

#include "nvrtc_program.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/embedded_templates.hpp"
#include "shapejit/jit/kernel_catalog.hpp"

namespace shapejit::jit {
namespace {

// NVRTC gets every embedded header from memory; nothing is read from the file system.
struct HeaderTable {
  std::vector<std::string> names, contents;
  std::vector<const char*> name_ptrs, content_ptrs;
  HeaderTable() {
    for (const auto& f : embedded_templates()) {
      names.emplace_back(f.name);
      contents.emplace_back(f.content);
    }
    for (size_t i = 0; i < names.size(); ++i) {
      name_ptrs.push_back(names[i].c_str());
      content_ptrs.push_back(contents[i].c_str());
    }
  }
};

const HeaderTable& headers() {
  static const HeaderTable table;
  return table;
}

int capture_int(const std::string& text, const std::regex& re) {
  std::smatch m;
  return std::regex_search(text, m, re) ? std::stoi(m[1].str()) : 0;
}

}  // namespace

std::vector<std::string> base_compile_options(const std::string& arch) {
  // NOTES: kernels include only the embedded templates, so -minimal (no texture/surface or
  // device-runtime declarations) is safe and trims front-end time; -v makes ptxas report the
  // resources that tests and `shapejit compile --emit log` check. A fixed --frandom-seed makes
  // the module id in internal-linkage symbol names a constant instead of one derived from the
  // process id, so a spec compiles to the same cubin bytes in every process (the proven-kernel
  // ledger, bench/proven-kernels.tsv, compares cubin hashes).
  return {"--gpu-architecture=" + arch, "-std=c++17", "-default-device", "-minimal", "-DNDEBUG",
          "--ptxas-options=-v", "--frandom-seed=0"};
}

RenderedSource render(const KernelSpec& named_or_positional) {
  const KernelDefinition& t = find_kernel_definition(named_or_positional);
  // Named arguments render (and key) exactly as their positional form.
  const KernelSpec spec = t.canonical(named_or_positional);
  RenderedSource r;
  r.source = "// shapejit " + spec.canonical() + "\n#include \"" + std::string(t.header) + "\"\n";
  r.name_expression = "&" + spec.instance_name();
  r.options = base_compile_options(spec.arch);
  r.options.insert(r.options.end(), spec.options.begin(), spec.options.end());
  return r;
}

void parse_ptxas_report(const std::string& log, const std::string& lowered_name,
                        CompileResult& result) {
  // The report has one block per entry function, starting at "Compiling entry function 'X'".
  const std::string marker = "Compiling entry function '" + lowered_name + "'";
  size_t begin = log.find(marker);
  if (begin == std::string::npos) return;
  size_t end = log.find("Compiling entry function", begin + marker.size());
  const std::string block = log.substr(begin, end == std::string::npos ? std::string::npos
                                                                         : end - begin);
  static const std::regex regs(R"(Used (\d+) registers)");
  static const std::regex stack(R"((\d+) bytes stack frame)");
  static const std::regex spill_st(R"((\d+) bytes spill stores)");
  static const std::regex spill_ld(R"((\d+) bytes spill loads)");
  static const std::regex smem(R"((\d+) bytes smem)");
  std::smatch m;
  result.registers = std::regex_search(block, m, regs) ? std::stoi(m[1].str()) : -1;
  result.stack_frame_bytes = capture_int(block, stack);
  result.spill_store_bytes = capture_int(block, spill_st);
  result.spill_load_bytes = capture_int(block, spill_ld);
  result.static_smem_bytes = capture_int(block, smem);
}

CompileResult compile_in_process(const KernelSpec& spec, bool want_ptx) {
  const auto start = std::chrono::steady_clock::now();
  const RenderedSource rendered = render(spec);
  const auto& h = headers();
  NvrtcProgram program(rendered.source, spec.kernel + ".cu", h.content_ptrs, h.name_ptrs);
  program.add_name_expression(rendered.name_expression);
  const nvrtcResult status = program.compile(rendered.options);
  CompileResult result;
  result.log = program.log();
  if (status != NVRTC_SUCCESS)
    throw CompileError(Errc::compile_failed, spec.canonical(), result.log,
                       "NVRTC failed to compile " + spec.canonical() + " (" +
                           nvrtcGetErrorString(status) + "):\n" + result.log);
  result.lowered_name = program.lowered_name(rendered.name_expression);
  result.cubin = program.cubin();
  if (want_ptx) result.ptx = program.ptx();
  parse_ptxas_report(result.log, result.lowered_name, result);
  result.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return result;
}

const std::string& nvrtc_identity() {
  // NVRTC exposes major.minor only; the build id in a compiled PTX header tells two builds of
  // the same version apart.
  static const std::string identity = [] {
    int major = 0, minor = 0;
    check_nvrtc(nvrtcVersion(&major, &minor), "nvrtcVersion");
    std::string id = std::to_string(major) + "." + std::to_string(minor);
    NvrtcProgram probe("__global__ void shapejit_probe() {}", "probe.cu", {}, {});
    if (probe.compile({"--gpu-architecture=compute_90"}) == NVRTC_SUCCESS) {
      std::smatch m;
      const std::string ptx = probe.ptx();
      static const std::regex build(R"(Compiler Build ID: (\S+))");
      if (std::regex_search(ptx, m, build)) id += " (" + m[1].str() + ")";
    }
    return id;
  }();
  return identity;
}

}  // namespace shapejit::jit
