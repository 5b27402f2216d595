#pragma once
// The DeepSeek-V3 FP8 GEMMs (N x K of B), the shapes its built-in kernel set and `shapejit bench
// gemm` use.

namespace shapejit::runtime {

struct GemmShapeNK {
  int n, k;
};

// Fused q_a/kv_a down-projection, q_b up-projection, kv_b up-projection, attention output,
// dense-MLP gate/up per rank, dense-MLP down.
inline constexpr GemmShapeNK kDeepSeekV3GemmShapes[] = {
    {2112, 7168}, {24576, 1536}, {32768, 512}, {7168, 16384}, {4096, 7168}, {7168, 2048}};

}  // namespace shapejit::runtime
