#include "shapejit/runtime/gemm.hpp"

#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/checks.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/scale_layout.hpp"
#include "shapejit/runtime/tensor_map.hpp"

namespace shapejit::runtime {

const char* to_string(DType t) {
  switch (t) {
    case DType::e4m3: return "e4m3";
    case DType::bf16: return "bf16";
    case DType::f32: return "f32";
    case DType::i32: return "i32";
  }
  return "?";
}

namespace {

[[noreturn]] void bad(const char* op, const std::string& what) {
  fail(Errc::invalid_argument, std::string(op) + ": " + what);
}

void require_dtype(const char* op, const char* name, DType got, DType want) {
  if (got != want)
    bad(op, std::string(name) + " dtype must be " + to_string(want) + ", got " + to_string(got));
}

// A, B, D and A's scales go through TMA (16-byte aligned); B's scales are read per element.
template <class Args>
void require_fp8_operands(const char* op, const Args& a) {
  require_device_pointer(op, "A", a.a, 16);
  require_device_pointer(op, "A scales", a.a_scales, 16);
  require_device_pointer(op, "B", a.b, 16);
  require_device_pointer(op, "B scales", a.b_scales, 4);
  require_device_pointer(op, "D", a.d, 16);
}

void require_shape(const char* op, long long m, long long n, long long k, int k_multiple) {
  if (m < 0) bad(op, "M must be non-negative, got " + std::to_string(m));
  if (n <= 0) bad(op, "N must be positive, got " + std::to_string(n));
  if (k <= 0) bad(op, "K must be positive, got " + std::to_string(k));
  if (k % k_multiple != 0)
    bad(op, "K must be a multiple of " + std::to_string(k_multiple) + ", got " +
                std::to_string(k));
  if (n % 8 != 0)
    bad(op, "N must be a multiple of 8 (D rows must be 16-byte multiples for TMA), got " +
                std::to_string(n));
  if (m > (1LL << 31) - 1 || n > (1LL << 24) || k > (1LL << 24))
    bad(op, "shape exceeds the supported range");
}

// Leading dimension in elements: 0 means packed; else at least the row and 16-byte strides.
std::int64_t leading_dim(const char* op, const char* name, std::int64_t ld, std::int64_t row,
                         int element_bytes) {
  if (ld == 0) ld = row;
  if (ld < row)
    bad(op, std::string("leading dimension ") + name + " = " + std::to_string(ld) +
                " is smaller than the row length " + std::to_string(row));
  if ((ld * element_bytes) % 16 != 0)
    bad(op, std::string("leading dimension ") + name + " = " + std::to_string(ld) +
                " gives a row stride that is not a multiple of 16 bytes (TMA)");
  return ld;
}

std::int64_t scale_stride(const char* op, std::int64_t stride, std::int64_t rows) {
  if (stride == 0) return m_major_scale_stride(rows);
  if (stride < rows || stride % 4 != 0)
    bad(op, "a_scale_stride = " + std::to_string(stride) +
                " must be a multiple of 4 (16-byte TMA rows) and at least the rows (" +
                std::to_string(rows) + ")");
  return stride;
}

// The current device as `runtime`'s calls see it (its SM limit applied).
DeviceInfo hopper_device(const char* op, const Runtime& runtime) {
  const DeviceInfo& dev = current_device();
  if (dev.cc_major != 9 || dev.cc_minor != 0)
    fail(Errc::unsupported, std::string(op) + ": needs an sm_90 (Hopper) GPU; this device (" +
                                dev.name + ") is sm_" + std::to_string(dev.cc_major) +
                                std::to_string(dev.cc_minor));
  return runtime.target(dev);
}

GemmProblem problem_of(const GemmFp8Args& a) {
  GemmProblem p;
  p.kind = GemmKind::fp8_1d2d;
  p.m = a.m;
  p.n = a.n;
  p.k = a.k;
  return p;
}
GemmProblem problem_of(const GemmBf16Args& a) {
  GemmProblem p;
  p.kind = GemmKind::bf16;
  p.m = a.m;
  p.n = a.n;
  p.k = a.k;
  p.out_fp32 = a.d_dtype == DType::f32;
  return p;
}
GemmProblem problem_of(const GemmFp8GroupedContiguousArgs& a) {
  GemmProblem p;
  p.kind = GemmKind::fp8_1d2d;
  p.layout = GemmLayout::grouped_contiguous;
  p.m = a.m_sum;
  p.n = a.n;
  p.k = a.k;
  p.num_groups = a.num_groups;
  p.align_m = a.align_m;
  return p;
}
GemmProblem problem_of(const GemmFp8GroupedMaskedArgs& a) {
  GemmProblem p;
  p.kind = GemmKind::fp8_1d2d;
  p.layout = GemmLayout::grouped_masked;
  p.m = a.expected_m > 0 ? std::min(a.expected_m, a.m_max) : a.m_max;
  p.n = a.n;
  p.k = a.k;
  p.num_groups = a.num_groups;
  return p;
}

TensorMapSpec operand_map(const char* name, CUtensorMapDataType type, int bytes, CUdeviceptr p,
                          std::uint64_t cols, std::uint64_t rows, std::int64_t ld,
                          std::uint32_t box_cols, std::uint32_t box_rows, int swizzle) {
  return tensor_map_2d(name, type, bytes, p, cols, rows, static_cast<std::uint64_t>(ld) * bytes,
                       box_cols, box_rows, swizzle);
}

// D's map: box of one swizzle chunk by 64 rows (one warp group's store); 3-D for masked.
TensorMapSpec output_map(const GemmConfig& c, CUtensorMapDataType type, int bytes, CUdeviceptr d,
                         std::uint64_t n, std::uint64_t rows, std::int64_t ldd, int groups) {
  TensorMapSpec s = operand_map("D", type, bytes, d, n, rows, ldd,
                                static_cast<std::uint32_t>(c.swizzle_d_bytes / bytes), 64,
                                c.swizzle_d_bytes);
  if (groups > 0) {
    s.rank = 3;
    s.dims[2] = static_cast<std::uint64_t>(groups);
    s.strides[1] = s.strides[0] * rows;
  }
  return s;
}

struct Fp8Launch {
  CUdeviceptr a, a_scales, b, b_scales, d, layout;
  std::int64_t rows_a;         // rows of A and of its scales
  std::int64_t lda, ldb, ldd, sa_stride;
  int m_arg;                   // the kernel's run-time M (M, M_sum or M_max)
  int n, k, groups_b;          // groups_b: groups stacked in B (1 for normal)
  int d_groups;                // > 0: 3-D D of [d_groups, m_arg, n]
};

void launch_fp8(const GemmProblem& p, const Fp8Launch& l, const DeviceInfo& dev,
                CUstream stream, Runtime& runtime) {
  const GemmConfig c = choose_gemm_config(p, dev, runtime.gemm_tuning());
  const jit::KernelSpec spec = gemm_kernel_spec(p, c, dev);
  const bool mc_a = c.num_multicast > 1 && c.multicast_on_a;
  const bool mc_b = c.num_multicast > 1 && !c.multicast_on_a;
  CUtensorMap map_a = make_tensor_map(operand_map(
      "A", CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, l.a, l.k, l.rows_a, l.lda, 128,
      static_cast<std::uint32_t>(mc_a ? c.block_m / 2 : c.block_m), 128));
  CUtensorMap map_b = make_tensor_map(operand_map(
      "B", CU_TENSOR_MAP_DATA_TYPE_UINT8, 1, l.b, l.k,
      static_cast<std::uint64_t>(l.n) * l.groups_b, l.ldb, 128,
      static_cast<std::uint32_t>(mc_b ? c.block_n / 2 : c.block_n), 128));
  CUtensorMap map_sa = make_tensor_map(operand_map(
      "A scales", CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 4, l.a_scales, l.rows_a, l.k / 128,
      l.sa_stride, static_cast<std::uint32_t>(c.block_m), 1, 0));
  CUtensorMap map_d = make_tensor_map(output_map(c, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, l.d, l.n,
                                                 static_cast<std::uint64_t>(l.m_arg), l.ldd,
                                                 l.d_groups));
  const LoadedKernel& kernel = runtime.load(spec);
  const float* scale_b = reinterpret_cast<const float*>(l.b_scales);
  const int* layout = reinterpret_cast<const int*>(l.layout);
  unsigned m = static_cast<unsigned>(l.m_arg);
  void* args[] = {&map_a, &map_b, &map_sa, &map_d, &scale_b, &layout, &m};
  LaunchParams lp;
  lp.grid[0] = static_cast<unsigned>(c.num_sms);
  lp.block[0] = static_cast<unsigned>(c.threads());
  lp.dynamic_smem_bytes = static_cast<unsigned>(c.smem_bytes);
  lp.cluster[0] = static_cast<unsigned>(c.num_multicast);
  lp.stream = stream;
  launch(kernel, lp, args);
}

}  // namespace

void validate_shape(const GemmFp8Args& a) {
  const char* op = "gemm_fp8_nt";
  require_dtype(op, "A", a.a_dtype, DType::e4m3);
  require_dtype(op, "B", a.b_dtype, DType::e4m3);
  require_dtype(op, "D", a.d_dtype, DType::bf16);
  require_shape(op, a.m, a.n, a.k, 128);
  leading_dim(op, "lda", a.lda, a.k, 1);
  leading_dim(op, "ldb", a.ldb, a.k, 1);
  leading_dim(op, "ldd", a.ldd, a.n, 2);
  scale_stride(op, a.a_scale_stride, a.m);
}

void validate_buffers(const GemmFp8Args& a) {
  if (a.m == 0) return;
  require_fp8_operands("gemm_fp8_nt", a);
}

void validate_shape(const GemmBf16Args& a) {
  const char* op = "gemm_bf16_nt";
  require_dtype(op, "A", a.a_dtype, DType::bf16);
  require_dtype(op, "B", a.b_dtype, DType::bf16);
  if (a.d_dtype != DType::bf16 && a.d_dtype != DType::f32)
    bad(op, std::string("D dtype must be bf16 or f32, got ") + to_string(a.d_dtype));
  require_shape(op, a.m, a.n, a.k, 64);
  leading_dim(op, "lda", a.lda, a.k, 2);
  leading_dim(op, "ldb", a.ldb, a.k, 2);
  leading_dim(op, "ldd", a.ldd, a.n, a.d_dtype == DType::f32 ? 4 : 2);
}

void validate_buffers(const GemmBf16Args& a) {
  if (a.m == 0) return;
  const char* op = "gemm_bf16_nt";
  require_device_pointer(op, "A", a.a, 16);
  require_device_pointer(op, "B", a.b, 16);
  require_device_pointer(op, "D", a.d, 16);
}

void validate_shape(const GemmFp8GroupedContiguousArgs& a) {
  const char* op = "gemm_fp8_grouped_contiguous";
  require_shape(op, a.m_sum, a.n, a.k, 128);
  if (a.num_groups <= 0) bad(op, "num_groups must be positive, got " + std::to_string(a.num_groups));
  if (a.align_m != 64 && a.align_m != 128 && a.align_m != 256)
    bad(op, "align_m must be 64, 128 or 256, got " + std::to_string(a.align_m));
  if (a.m_sum % a.align_m != 0)
    bad(op, "M_sum = " + std::to_string(a.m_sum) + " must be a multiple of align_m = " +
                std::to_string(a.align_m) + " (each group's rows padded to align_m)");
  scale_stride(op, a.a_scale_stride, a.m_sum);
}

void validate_buffers(const GemmFp8GroupedContiguousArgs& a) {
  if (a.m_sum == 0) return;
  const char* op = "gemm_fp8_grouped_contiguous";
  require_fp8_operands(op, a);
  require_device_pointer(op, "m_indices", a.m_indices, 4);
}

void validate_shape(const GemmFp8GroupedMaskedArgs& a) {
  const char* op = "gemm_fp8_grouped_masked";
  require_shape(op, a.m_max, a.n, a.k, 128);
  if (a.num_groups <= 0) bad(op, "num_groups must be positive, got " + std::to_string(a.num_groups));
  if (a.num_groups > 1024) bad(op, "num_groups must be at most 1024");
  if (a.expected_m < 0) bad(op, "expected_m must be non-negative");
  scale_stride(op, a.a_scale_stride, static_cast<std::int64_t>(a.m_max) * a.num_groups);
}

void validate_buffers(const GemmFp8GroupedMaskedArgs& a) {
  if (a.m_max == 0) return;
  const char* op = "gemm_fp8_grouped_masked";
  require_fp8_operands(op, a);
  require_device_pointer(op, "masked_m", a.masked_m, 4);
}

void validate(const GemmFp8Args& a) {
  validate_shape(a);
  validate_buffers(a);
}
void validate(const GemmBf16Args& a) {
  validate_shape(a);
  validate_buffers(a);
}
void validate(const GemmFp8GroupedContiguousArgs& a) {
  validate_shape(a);
  validate_buffers(a);
}
void validate(const GemmFp8GroupedMaskedArgs& a) {
  validate_shape(a);
  validate_buffers(a);
}

jit::KernelSpec gemm_spec(const GemmFp8Args& a, const DeviceInfo& dev, const GemmConfigLookup* tuned) {
  const GemmProblem p = problem_of(a);
  return gemm_kernel_spec(p, choose_gemm_config(p, dev, tuned), dev);
}
jit::KernelSpec gemm_spec(const GemmBf16Args& a, const DeviceInfo& dev, const GemmConfigLookup* tuned) {
  const GemmProblem p = problem_of(a);
  return gemm_kernel_spec(p, choose_gemm_config(p, dev, tuned), dev);
}
jit::KernelSpec gemm_spec(const GemmFp8GroupedContiguousArgs& a, const DeviceInfo& dev, const GemmConfigLookup* tuned) {
  const GemmProblem p = problem_of(a);
  return gemm_kernel_spec(p, choose_gemm_config(p, dev, tuned), dev);
}
jit::KernelSpec gemm_spec(const GemmFp8GroupedMaskedArgs& a, const DeviceInfo& dev, const GemmConfigLookup* tuned) {
  const GemmProblem p = problem_of(a);
  return gemm_kernel_spec(p, choose_gemm_config(p, dev, tuned), dev);
}

void gemm_fp8_nt(const GemmFp8Args& a, CUstream stream, Runtime& runtime) {
  validate(a);
  if (a.m == 0) return;
  const DeviceInfo dev = hopper_device("gemm_fp8_nt", runtime);
  Fp8Launch l{a.a, a.a_scales, a.b, a.b_scales, a.d, 0,
              a.m, a.lda ? a.lda : a.k, a.ldb ? a.ldb : a.k, a.ldd ? a.ldd : a.n,
              scale_stride("gemm_fp8_nt", a.a_scale_stride, a.m),
              a.m, a.n, a.k, 1, 0};
  launch_fp8(problem_of(a), l, dev, stream, runtime);
}

void gemm_fp8_grouped_contiguous(const GemmFp8GroupedContiguousArgs& a, CUstream stream,
                                 Runtime& runtime) {
  validate(a);
  if (a.m_sum == 0) return;
  const DeviceInfo dev = hopper_device("gemm_fp8_grouped_contiguous", runtime);
  Fp8Launch l{a.a, a.a_scales, a.b, a.b_scales, a.d, a.m_indices,
              a.m_sum, a.k, a.k, a.n,
              scale_stride("gemm_fp8_grouped_contiguous", a.a_scale_stride, a.m_sum),
              a.m_sum, a.n, a.k, a.num_groups, 0};
  launch_fp8(problem_of(a), l, dev, stream, runtime);
}

void gemm_fp8_grouped_masked(const GemmFp8GroupedMaskedArgs& a, CUstream stream,
                             Runtime& runtime) {
  validate(a);
  if (a.m_max == 0) return;
  const DeviceInfo dev = hopper_device("gemm_fp8_grouped_masked", runtime);
  const std::int64_t rows = static_cast<std::int64_t>(a.m_max) * a.num_groups;
  Fp8Launch l{a.a, a.a_scales, a.b, a.b_scales, a.d, a.masked_m,
              rows, a.k, a.k, a.n,
              scale_stride("gemm_fp8_grouped_masked", a.a_scale_stride, rows),
              a.m_max, a.n, a.k, a.num_groups, a.num_groups};
  launch_fp8(problem_of(a), l, dev, stream, runtime);
}

void gemm_bf16_nt(const GemmBf16Args& a, CUstream stream, Runtime& runtime) {
  validate(a);
  if (a.m == 0) return;
  const DeviceInfo dev = hopper_device("gemm_bf16_nt", runtime);
  const GemmProblem p = problem_of(a);
  const GemmConfig c = choose_gemm_config(p, dev, runtime.gemm_tuning());
  const jit::KernelSpec spec = gemm_kernel_spec(p, c, dev);
  const bool mc_a = c.num_multicast > 1 && c.multicast_on_a;
  const bool mc_b = c.num_multicast > 1 && !c.multicast_on_a;
  const int out_bytes = a.d_dtype == DType::f32 ? 4 : 2;
  CUtensorMap map_a = make_tensor_map(operand_map(
      "A", CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, a.a, a.k, a.m, a.lda ? a.lda : a.k, 64,
      static_cast<std::uint32_t>(mc_a ? c.block_m / 2 : c.block_m), 128));
  CUtensorMap map_b = make_tensor_map(operand_map(
      "B", CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, a.b, a.k, a.n, a.ldb ? a.ldb : a.k, 64,
      static_cast<std::uint32_t>(mc_b ? c.block_n / 2 : c.block_n), 128));
  CUtensorMap map_d = make_tensor_map(output_map(
      c, out_bytes == 4 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
      out_bytes, a.d, a.n, a.m, a.ldd ? a.ldd : a.n, 0));
  const LoadedKernel& kernel = runtime.load(spec);
  unsigned m = static_cast<unsigned>(a.m);
  void* args[] = {&map_a, &map_b, &map_d, &m};
  LaunchParams lp;
  lp.grid[0] = static_cast<unsigned>(c.num_sms);
  lp.block[0] = static_cast<unsigned>(c.threads());
  lp.dynamic_smem_bytes = static_cast<unsigned>(c.smem_bytes);
  lp.cluster[0] = static_cast<unsigned>(c.num_multicast);
  lp.stream = stream;
  launch(kernel, lp, args);
}

}  // namespace shapejit::runtime
