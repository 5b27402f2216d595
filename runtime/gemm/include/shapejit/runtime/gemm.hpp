#pragma once
// GEMM front ends for Hopper (sm_90a). All matrices are row-major device memory; "NT" means
// D[M, N] = A[M, K] · B[N, K]ᵀ (both operands K-major). Every call validates all of its
// inputs before any driver call and throws Error(invalid_argument) naming the failed
// precondition (dtype, K multiple of 128, alignment, leading dimension, shape), or
// Error(unsupported) on a device other than sm_90. M = 0 (or no masked rows) launches nothing.
//
// Scale layouts (see scale_layout.hpp):
//   a_scales  FP32, M-major [K/128][a_scale_stride], a_scale_stride a multiple of 4 >= rows
//             (default 0 = align_up(rows, 4)); rows = M, M_sum, or G·M_max (masked).
//   b_scales  FP32, row-major [ceil(N/128)][K/128]; grouped: [G][ceil(N/128)][K/128].
#include <cuda.h>

#include <cstdint>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

enum class DType { e4m3, bf16, f32, i32 };
const char* to_string(DType t);

// D (BF16) = A (FP8) · Bᵀ (FP8) with 1x128 A scales and 128x128 B scales.
struct GemmFp8Args {
  CUdeviceptr a = 0, a_scales = 0, b = 0, b_scales = 0, d = 0;
  int m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldd = 0;   // row strides in elements; 0: packed (k, k, n)
  std::int64_t a_scale_stride = 0;
  DType a_dtype = DType::e4m3, b_dtype = DType::e4m3, d_dtype = DType::bf16;
};

// D (BF16 or FP32, d_dtype) = A (BF16) · Bᵀ (BF16), FP32 accumulation.
struct GemmBf16Args {
  CUdeviceptr a = 0, b = 0, d = 0;
  int m = 0, n = 0, k = 0;                  // K a multiple of 64
  std::int64_t lda = 0, ldb = 0, ldd = 0;
  DType a_dtype = DType::bf16, b_dtype = DType::bf16, d_dtype = DType::bf16;
};

// Grouped, contiguous: A [M_sum, K], B [G, N, K], D [M_sum, N] (all packed);
// m_indices int32 [M_sum]: the group of each row, -1 for padding rows. Each group's rows
// start on a multiple of align_m (64, 128 or 256) and every block of align_m rows belongs to
// one group (or is all padding, which is skipped; its D rows are left unwritten).
struct GemmFp8GroupedContiguousArgs {
  CUdeviceptr a = 0, a_scales = 0, b = 0, b_scales = 0, d = 0, m_indices = 0;
  int m_sum = 0, n = 0, k = 0, num_groups = 0;
  int align_m = 128;
  std::int64_t a_scale_stride = 0;
};

// Grouped, masked: A [G, M_max, K] (= [G·M_max, K]), D [G, M_max, N], B [G, N, K];
// masked_m int32 [G] on the device: rows of each group in use (rows beyond it in D are left
// unwritten or hold unspecified values up to the next 64-row boundary); expected_m: a host
// hint of typical rows per group, used to pick the kernel (CUDA-graph friendly: no host sync).
struct GemmFp8GroupedMaskedArgs {
  CUdeviceptr a = 0, a_scales = 0, b = 0, b_scales = 0, d = 0, masked_m = 0;
  int m_max = 0, n = 0, k = 0, num_groups = 0, expected_m = 0;
  std::int64_t a_scale_stride = 0;
};

// Kernels come from `runtime` (its cache, compile options and SM limit; see runtime.hpp).
void gemm_fp8_nt(const GemmFp8Args& args, CUstream stream = nullptr,
                 Runtime& runtime = Runtime::global());
void gemm_bf16_nt(const GemmBf16Args& args, CUstream stream = nullptr,
                  Runtime& runtime = Runtime::global());
void gemm_fp8_grouped_contiguous(const GemmFp8GroupedContiguousArgs& args,
                                 CUstream stream = nullptr, Runtime& runtime = Runtime::global());
void gemm_fp8_grouped_masked(const GemmFp8GroupedMaskedArgs& args, CUstream stream = nullptr,
                             Runtime& runtime = Runtime::global());

// The precondition checks of the calls above (no driver call). validate_shape: what the kernel
// spec depends on (dtypes, shape, leading dimensions, scale stride), all that a manifest or a
// spec needs; validate_buffers: the device pointers (none are read when M = 0); validate: both.
void validate_shape(const GemmFp8Args& args);
void validate_shape(const GemmBf16Args& args);
void validate_shape(const GemmFp8GroupedContiguousArgs& args);
void validate_shape(const GemmFp8GroupedMaskedArgs& args);
void validate_buffers(const GemmFp8Args& args);
void validate_buffers(const GemmBf16Args& args);
void validate_buffers(const GemmFp8GroupedContiguousArgs& args);
void validate_buffers(const GemmFp8GroupedMaskedArgs& args);
void validate(const GemmFp8Args& args);
void validate(const GemmBf16Args& args);
void validate(const GemmFp8GroupedContiguousArgs& args);
void validate(const GemmFp8GroupedMaskedArgs& args);

// The kernel spec a call with these arguments loads on `device` (what precompilation uses; a
// runtime's call uses runtime.target(device), its SM limit applied, and runtime.gemm_tuning()).
// tuned: tuning records consulted before the heuristic (nullptr: the heuristic's config).
jit::KernelSpec gemm_spec(const GemmFp8Args& args, const DeviceInfo& device,
                          const GemmConfigLookup* tuned = nullptr);
jit::KernelSpec gemm_spec(const GemmBf16Args& args, const DeviceInfo& device,
                          const GemmConfigLookup* tuned = nullptr);
jit::KernelSpec gemm_spec(const GemmFp8GroupedContiguousArgs& args, const DeviceInfo& device,
                          const GemmConfigLookup* tuned = nullptr);
jit::KernelSpec gemm_spec(const GemmFp8GroupedMaskedArgs& args, const DeviceInfo& device,
                          const GemmConfigLookup* tuned = nullptr);

}  // namespace shapejit::runtime
