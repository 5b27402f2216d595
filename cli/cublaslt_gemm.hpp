#pragma once
// cuBLASLt as the in-process reference for GEMM speed, shared by `shapejit bench gemm` and the
// tuner's reference rows (`shapejit tune`): the same matmul setup in both, so their figures
// compare. Only the CLI links cuBLASLt; the runtime gets it as a GemmReferenceProvider.
#include <cublasLt.h>

#include <string>

#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::cli {

// One cuBLASLt matmul D[M,N] (row-major) = A[M,K] · B[N,K]ᵀ: in cuBLASLt's column-major terms
// Dᵀ[N,M] = op(B)ᵀ… i.e. "A" = our B with transa = T, "B" = our A, the TN layout FP8 needs.
// FP8: block-scaled (VEC128 on A, BLK128x128 on B) or per-tensor scaled; D in BF16, or FP32
// for BF16 inputs with out_fp32. `ok` is false when cuBLASLt has no algorithm for it.
struct LtGemm {
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  cublasLtMatmulHeuristicResult_t algo{};
  runtime::DeviceBuffer workspace{64u << 20};
  bool ok = false;
  std::string label;

  LtGemm(bool fp8, bool block_scaled, int m, int n, int k, CUdeviceptr b_scale, CUdeviceptr a_scale,
         bool out_fp32 = false);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;
  void run(CUdeviceptr a, CUdeviceptr b, CUdeviceptr d, CUstream stream = nullptr);
};

// The tuner's reference for gemm_fp8 / gemm_bf16 shapes: cuBLASLt on the measurer's operands,
// FP8 block-scaled first, then per-tensor scaled (the bench's order).
runtime::tuning::GemmReferenceProvider cublaslt_gemm_reference();

}  // namespace shapejit::cli
