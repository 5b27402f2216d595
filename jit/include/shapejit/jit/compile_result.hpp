#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace shapejit::jit {

// What one compile produced, plus the resource figures ptxas reported for the kernel.
struct CompileResult {
  std::vector<std::uint8_t> cubin;
  std::string ptx;              // empty unless asked for
  std::string log;              // NVRTC log, including the ptxas verbose report
  std::string lowered_name;     // mangled entry point to load from the cubin
  int registers = -1;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int stack_frame_bytes = 0;
  int static_smem_bytes = 0;
  double compile_ms = 0.0;
};

}  // namespace shapejit::jit
