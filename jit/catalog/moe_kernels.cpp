#include "family_catalogs.hpp"

namespace shapejit::jit {

// The MoE family (templates/moe/): routing layout (two steps), dispatch with FP8 quantization,
// SwiGLU with FP8 quantization, and combine. The grouped GEMMs belong to the gemm family.
std::vector<KernelTemplate> moe_kernel_templates() {
  return {
      {"moe", "moe_route_count", "moe/route_count.cuh",
       {"NUM_EXPERTS", "TOP_K", "TOKENS_PER_BLOCK"}},
      {"moe", "moe_route_layout", "moe/route_layout.cuh",
       {"NUM_EXPERTS", "TOP_K", "TOKENS_PER_BLOCK", "ALIGN_M", "MASKED"}},
      {"moe", "moe_dispatch_fp8", "moe/dispatch_fp8.cuh", {"HIDDEN", "TOP_K", "SCALE_MN_MAJOR"}},
      {"moe", "moe_swiglu_fp8", "moe/swiglu_fp8.cuh", {"INTERMEDIATE", "SCALE_MN_MAJOR"}},
      {"moe", "moe_combine", "moe/combine.cuh", {"HIDDEN", "TOP_K"}},
  };
}

}  // namespace shapejit::jit
