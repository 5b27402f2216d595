#pragma once
// Layout facts of the GEMM kernels that the host needs as well: threads per CTA and the shared
// memory of a tile and pipeline depth. Plain constexpr C++, included by the kernels
// (sm90_fp8_gemm_1d2d.cuh, sm90_bf16_gemm.cuh), by the runtime's heuristic and launches
// (runtime/gemm/) and by the kernel definitions' rules (jit/catalog/gemm_kernels.cpp), so the
// numbers a launch uses are the ones the kernel was compiled for.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SHAPEJIT_GEMM_HD __host__ __device__
#else
#define SHAPEJIT_GEMM_HD
#endif

namespace shapejit::kernels {

// NOTES: enumerators, not constexpr variables: the kernels compile with -default-device, which
// turns every namespace-scope or static member variable into a global in the cubin.
enum : int {
  // Shared memory one CTA may use on sm_90 after opting in (227 KiB).
  kGemmMaxSmemBytes = 232448,
  // Swizzled TMA tiles need a 1024-byte aligned base and the dynamic base is only promised 16
  // bytes, so the kernels align it by hand and the launch asks for this much on top.
  kGemmSmemAlignSlack = 1024,
  // Bytes of K per tile row in one stage: 128 FP8 or 64 BF16 values.
  kGemmStageRowBytes = 128,
};

// One producer warp group plus one math warp group per 64 tile rows.
SHAPEJIT_GEMM_HD constexpr int gemm_threads(int block_m) { return (block_m / 64 + 1) * 128; }

// Shared memory of one CTA, in bytes: the output tile, `stages` copies of (A tile, B tile,
// A scales), then a full and an empty mbarrier per stage.
struct GemmSmemLayout {
  int d;          // output tile (BF16 or FP32)
  int a, b, sa;   // per stage; sa: the A scales of an FP8 stage, 0 for BF16
  int barriers;
  int stages;
  SHAPEJIT_GEMM_HD constexpr int total() const { return d + stages * (a + b + sa) + barriers; }
  // What a launch requests: the layout plus the alignment slack.
  SHAPEJIT_GEMM_HD constexpr int dynamic_bytes() const { return total() + kGemmSmemAlignSlack; }
  SHAPEJIT_GEMM_HD constexpr bool fits() const { return dynamic_bytes() <= kGemmMaxSmemBytes; }
};

SHAPEJIT_GEMM_HD constexpr GemmSmemLayout fp8_gemm_smem(int block_m, int block_n, int stages) {
  return {block_m * block_n * 2,          block_m * kGemmStageRowBytes,
          block_n * kGemmStageRowBytes,   block_m * 4,
          stages * 2 * 8,                 stages};
}

SHAPEJIT_GEMM_HD constexpr GemmSmemLayout bf16_gemm_smem(int block_m, int block_n, int stages,
                                                         bool out_fp32) {
  return {block_m * block_n * (out_fp32 ? 4 : 2), block_m * kGemmStageRowBytes,
          block_n * kGemmStageRowBytes,           0,
          stages * 2 * 8,                         stages};
}

// The layouts as compile-time constants of a kernel instance (the same members as before the
// layout moved here, so the cubins keep their globals).
template <int BLOCK_M, int BLOCK_N, int kNumStages>
struct Fp8GemmSmem {
  static constexpr int kD = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).d;
  static constexpr int kA = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).a;
  static constexpr int kB = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).b;
  static constexpr int kSA = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).sa;
  static constexpr int kBarriers = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).barriers;
  static constexpr int kTotal = fp8_gemm_smem(BLOCK_M, BLOCK_N, kNumStages).total();
};

template <int BLOCK_M, int BLOCK_N, int kNumStages, bool kOutFP32>
struct Bf16GemmSmem {
  static constexpr int kD = bf16_gemm_smem(BLOCK_M, BLOCK_N, kNumStages, kOutFP32).d;
  static constexpr int kA = bf16_gemm_smem(BLOCK_M, BLOCK_N, kNumStages, kOutFP32).a;
  static constexpr int kB = bf16_gemm_smem(BLOCK_M, BLOCK_N, kNumStages, kOutFP32).b;
  static constexpr int kBarriers = bf16_gemm_smem(BLOCK_M, BLOCK_N, kNumStages, kOutFP32).barriers;
  static constexpr int kTotal = bf16_gemm_smem(BLOCK_M, BLOCK_N, kNumStages, kOutFP32).total();
};

}  // namespace shapejit::kernels
