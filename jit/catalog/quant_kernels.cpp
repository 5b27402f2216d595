#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {

// FP8 per-token-group quantization (templates/quant/).
std::vector<KernelDefinition> quant_kernel_definitions() {
  KernelDefinition q{.family = "quant", .kernel = "per_token_group_quant", .header = "quant/per_token_group_quant.cuh",
      .summary = "FP8 E4M3 quantization with one FP32 scale per GROUP_SIZE elements of a row"};
  q.params = {
      int_param("K", 8, 1 << 20, 8, "row length"),
      // 8 elements per thread, a power-of-two number of threads per group within a warp.
      one_of_param("GROUP_SIZE", {8, 16, 32, 64, 128, 256}, "elements sharing one scale"),
      int_param("THREADS", 32, 1024, 32, "threads per block"),
  };
  q.rules = {{"K is a multiple of GROUP_SIZE",
              [](const ParamValues& v) { return v["K"] % v["GROUP_SIZE"] == 0; }}};
  return {q};
}

}  // namespace shapejit::jit
