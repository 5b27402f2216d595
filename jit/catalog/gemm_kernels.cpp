#include "family_catalogs.hpp"

namespace shapejit::jit {

// GEMM kernels for Hopper. Parameters (see the headers for their meaning):
//   SHAPE_M      0: M is the run-time argument; > 0: M fixed at compile time
//   SHAPE_N/K    problem shape; BLOCK_M/N tile; kNumStages pipeline depth
//   kNumMulticast 1 or 2 CTAs per cluster; kMulticastOnA which operand the pair shares
//   kSwizzleDBytes TMA swizzle of the output tile (32, 64, 128 bytes)
//   NUM_SMS      persistent grid size; kGemmType 0 normal, 1 grouped contiguous, 2 masked
std::vector<KernelTemplate> gemm_kernel_templates() {
  return {
      {"gemm",
       "sm90_fp8_gemm_1d2d",
       "gemm/sm90_fp8_gemm_1d2d.cuh",
       {"SHAPE_M", "SHAPE_N", "SHAPE_K", "BLOCK_M", "BLOCK_N", "kNumStages", "kNumMulticast",
        "kMulticastOnA", "kSwizzleDBytes", "NUM_SMS", "kGemmType", "kNumGroups"}},
      {"gemm",
       "sm90_bf16_gemm",
       "gemm/sm90_bf16_gemm.cuh",
       {"SHAPE_M", "SHAPE_N", "SHAPE_K", "BLOCK_M", "BLOCK_N", "kNumStages", "kNumMulticast",
        "kMulticastOnA", "kSwizzleDBytes", "NUM_SMS", "kOutFP32"}},
  };
}

}  // namespace shapejit::jit
