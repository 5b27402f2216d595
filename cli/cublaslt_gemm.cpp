// cuBLASLt GEMM setup and launch (see cublaslt_gemm.hpp).
#include "cublaslt_gemm.hpp"

#include <memory>

#include "shapejit/error.hpp"

namespace shapejit::cli {
namespace {

void lt_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(Errc::driver, std::string("cuBLASLt: ") + what + " failed (status " + std::to_string(s) + ")");
}

}  // namespace

LtGemm::LtGemm(bool fp8, bool block_scaled, int m, int n, int k, CUdeviceptr b_scale, CUdeviceptr a_scale,
               bool out_fp32) {
  lt_check(cublasLtCreate(&handle), "create");
  lt_check(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
  const cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof nn);
  const cudaDataType in = fp8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
  if (fp8) {
    if (block_scaled) {
      const cublasLtMatmulMatrixScale_t ma = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
      const cublasLtMatmulMatrixScale_t mb = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &ma, sizeof ma);
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mb, sizeof mb);
    }
    void* sa = reinterpret_cast<void*>(b_scale);
    void* sb = reinterpret_cast<void*>(a_scale);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb);
  }
  const cudaDataType out = !fp8 && out_fp32 ? CUDA_R_32F : CUDA_R_16BF;
  lt_check(cublasLtMatrixLayoutCreate(&la, in, k, n, k), "layout A");
  lt_check(cublasLtMatrixLayoutCreate(&lb, in, k, m, k), "layout B");
  lt_check(cublasLtMatrixLayoutCreate(&ld, out, n, m, n), "layout D");
  cublasLtMatmulPreference_t pref = nullptr;
  cublasLtMatmulPreferenceCreate(&pref);
  const std::size_t ws = workspace.bytes();
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  int found = 0;
  const auto s = cublasLtMatmulAlgoGetHeuristic(handle, desc, la, lb, ld, ld, pref, 1, &algo, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  ok = s == CUBLAS_STATUS_SUCCESS && found > 0;
  label = !fp8 ? (out_fp32 ? "cuBLASLt BF16 (FP32 out)" : "cuBLASLt BF16")
               : block_scaled ? "cuBLASLt FP8 block-scaled (VEC128 x BLK128x128)"
                              : "cuBLASLt FP8 per-tensor scaled";
}

LtGemm::~LtGemm() {
  if (la) cublasLtMatrixLayoutDestroy(la);
  if (lb) cublasLtMatrixLayoutDestroy(lb);
  if (ld) cublasLtMatrixLayoutDestroy(ld);
  if (desc) cublasLtMatmulDescDestroy(desc);
  if (handle) cublasLtDestroy(handle);
}

void LtGemm::run(CUdeviceptr a, CUdeviceptr b, CUdeviceptr d, CUstream stream) {
  const float one = 1.0f, zero = 0.0f;
  lt_check(cublasLtMatmul(handle, desc, &one, reinterpret_cast<void*>(b), la, reinterpret_cast<void*>(a), lb, &zero,
                          reinterpret_cast<void*>(d), ld, reinterpret_cast<void*>(d), ld, &algo.algo,
                          reinterpret_cast<void*>(workspace.ptr()), workspace.bytes(), stream),
           "matmul");
}

runtime::tuning::GemmReferenceProvider cublaslt_gemm_reference() {
  return [](const runtime::tuning::GemmOperands& o) {
    std::vector<runtime::tuning::ReferenceLaunch> ways;
    const runtime::GemmProblem& p = o.problem;
    if (p.layout != runtime::GemmLayout::normal) return ways;
    const bool fp8 = p.kind == runtime::GemmKind::fp8_1d2d;
    for (bool block : {true, false}) {
      if (!fp8 && block) continue;
      auto lt = std::make_shared<LtGemm>(fp8, block, p.m, p.n, p.k, o.b_scales, o.a_scales, p.out_fp32);
      if (!lt->ok) continue;
      ways.push_back({lt->label, [lt, a = o.a, b = o.b, d = o.d](CUstream s) { lt->run(a, b, d, s); }});
    }
    return ways;
  };
}

}  // namespace shapejit::cli
