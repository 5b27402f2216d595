#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {

// The MoE family (templates/moe/): routing layout (two steps), dispatch with FP8
// quantization, SwiGLU with FP8 quantization, and combine. The grouped GEMMs belong to gemm.
std::vector<KernelDefinition> moe_kernel_definitions() {
  const KernelParam experts = int_param("NUM_EXPERTS", 1, 1024, 1, "experts on this rank");
  const KernelParam top_k = int_param("TOP_K", 1, 64, 1, "experts per token");
  const KernelParam tokens = int_param("TOKENS_PER_BLOCK", 1, 1 << 20, 1, "tokens per routing block");
  // One thread per 16 elements, at most 1024 threads.
  const KernelParam hidden = int_param("HIDDEN", 512, 16384, 512, "model width");
  const KernelParam m_major = bool_param("SCALE_M_MAJOR", "scales M-major (what the GEMMs read)");
  KernelDefinition count{.family = "moe", .kernel = "moe_route_count", .header = "moe/route_count.cuh",
      .summary = "counts routed entries per expert and block"};
  count.params = {experts, top_k, tokens};
  KernelDefinition layout{.family = "moe", .kernel = "moe_route_layout", .header = "moe/route_layout.cuh",
      .summary = "expert-major row of every routed entry"};
  layout.params = {experts, top_k, tokens,
                   int_param("ALIGN_M", 1, 1024, 1, "rows each expert's block is aligned to"),
                   bool_param("MASKED", "masked layout (one M_max slab per expert)")};
  KernelDefinition dispatch{.family = "moe", .kernel = "moe_dispatch_fp8", .header = "moe/dispatch_fp8.cuh",
      .summary = "copies each token to its expert rows, quantized to FP8 1x128"};
  dispatch.params = {hidden, top_k, m_major};
  KernelDefinition swiglu{.family = "moe", .kernel = "moe_swiglu_fp8", .header = "moe/swiglu_fp8.cuh",
      .summary = "SiLU(gate) * up, quantized to FP8 1x128"};
  swiglu.params = {int_param("INTERMEDIATE", 512, 16384, 512, "expert intermediate width"), m_major};
  KernelDefinition combine{.family = "moe", .kernel = "moe_combine", .header = "moe/combine.cuh",
      .summary = "weighted FP32 sum of each token's expert rows"};
  combine.params = {hidden, top_k};
  return {count, layout, dispatch, swiglu, combine};
}

}  // namespace shapejit::jit
