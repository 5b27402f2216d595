#include "nvrtc_program.hpp"

#include "shapejit/error.hpp"

namespace shapejit::jit {

void check_nvrtc(nvrtcResult result, const char* call) {
  if (result != NVRTC_SUCCESS)
    fail(Errc::compile_failed, std::string(call) + " failed: " + nvrtcGetErrorString(result));
}

NvrtcProgram::NvrtcProgram(const std::string& source, const std::string& name,
                           const std::vector<const char*>& header_contents,
                           const std::vector<const char*>& header_names) {
  check_nvrtc(nvrtcCreateProgram(&prog_, source.c_str(), name.c_str(),
                                 static_cast<int>(header_contents.size()), header_contents.data(),
                                 header_names.data()),
              "nvrtcCreateProgram");
}

NvrtcProgram::~NvrtcProgram() {
  if (prog_) nvrtcDestroyProgram(&prog_);
}

void NvrtcProgram::add_name_expression(const std::string& expr) {
  check_nvrtc(nvrtcAddNameExpression(prog_, expr.c_str()), "nvrtcAddNameExpression");
}

nvrtcResult NvrtcProgram::compile(const std::vector<std::string>& options) {
  std::vector<const char*> argv;
  argv.reserve(options.size());
  for (const auto& o : options) argv.push_back(o.c_str());
  return nvrtcCompileProgram(prog_, static_cast<int>(argv.size()), argv.data());
}

std::string NvrtcProgram::log() const {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(prog_, &size) != NVRTC_SUCCESS || size == 0) return {};
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(prog_, log.data()) != NVRTC_SUCCESS) return {};
  while (!log.empty() && log.back() == '\0') log.pop_back();
  return log;
}

std::string NvrtcProgram::ptx() const {
  size_t size = 0;
  check_nvrtc(nvrtcGetPTXSize(prog_, &size), "nvrtcGetPTXSize");
  std::string ptx(size, '\0');
  check_nvrtc(nvrtcGetPTX(prog_, ptx.data()), "nvrtcGetPTX");
  while (!ptx.empty() && ptx.back() == '\0') ptx.pop_back();
  return ptx;
}

std::vector<unsigned char> NvrtcProgram::cubin() const {
  size_t size = 0;
  check_nvrtc(nvrtcGetCUBINSize(prog_, &size), "nvrtcGetCUBINSize");
  std::vector<unsigned char> cubin(size);
  check_nvrtc(nvrtcGetCUBIN(prog_, reinterpret_cast<char*>(cubin.data())), "nvrtcGetCUBIN");
  return cubin;
}

std::string NvrtcProgram::lowered_name(const std::string& expr) const {
  const char* lowered = nullptr;
  check_nvrtc(nvrtcGetLoweredName(prog_, expr.c_str(), &lowered), "nvrtcGetLoweredName");
  return lowered;
}

}  // namespace shapejit::jit
