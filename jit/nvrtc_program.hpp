#pragma once
// RAII owner of an nvrtcProgram and the calls around it.
#include <nvrtc.h>

#include <string>
#include <vector>

namespace shapejit::jit {

class NvrtcProgram {
 public:
  NvrtcProgram(const std::string& source, const std::string& name,
               const std::vector<const char*>& header_contents,
               const std::vector<const char*>& header_names);
  ~NvrtcProgram();
  NvrtcProgram(const NvrtcProgram&) = delete;
  NvrtcProgram& operator=(const NvrtcProgram&) = delete;

  void add_name_expression(const std::string& expr);
  // Returns NVRTC's result; the log is available either way.
  nvrtcResult compile(const std::vector<std::string>& options);
  std::string log() const;
  std::string ptx() const;
  std::vector<unsigned char> cubin() const;
  std::string lowered_name(const std::string& expr) const;

 private:
  nvrtcProgram prog_ = nullptr;
};

// Throws Error(compile_failed) naming the NVRTC call when result is not success.
void check_nvrtc(nvrtcResult result, const char* call);

}  // namespace shapejit::jit
