#pragma once
// Per-token-group FP8 quantization: BF16 [M, K] → FP8 E4M3 [M, K] + FP32 scales, one per
// 1×group_size group (scale = max(amax, 1e-4) / 448).
#include <cuda.h>

#include <cstdint>

#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::runtime {

class Runtime;

enum class ScaleLayout {
  row_major,   // scales[m * (K/G) + g]
  m_major,     // scales[g * m_stride + m], m_stride = align_up(M, 4): the FP8 GEMM's A-scale
               // layout (M-major, each column 16-byte aligned for TMA)
};

// Number of floats the scale buffer needs.
std::int64_t quant_scale_elements(int m, int k, int group_size, ScaleLayout layout);

struct QuantFp8Args {
  CUdeviceptr x = 0;        // BF16 [m, k], row-major, 16-byte aligned
  CUdeviceptr q = 0;        // FP8 E4M3 [m, k], 16-byte aligned
  CUdeviceptr scales = 0;   // FP32, quant_scale_elements() floats, 4-byte aligned
  int m = 0, k = 0;
  int group_size = 128;
  ScaleLayout layout = ScaleLayout::row_major;
};

// Checks every precondition (throws Error(invalid_argument) naming it) before any driver call:
// validate_shape what the kernel spec depends on (M, K, group size), validate_buffers the device
// pointers (none are read when M = 0), validate both.
void validate_shape(const QuantFp8Args& args);
void validate_buffers(const QuantFp8Args& args);
void validate(const QuantFp8Args& args);
jit::KernelSpec quant_fp8_spec(int k, int group_size, const std::string& arch);

void quantize_fp8_per_token_group(const QuantFp8Args& args, CUstream stream, Runtime& runtime);
void quantize_fp8_per_token_group(const QuantFp8Args& args, CUstream stream = nullptr);

// The host reference, bit-exact with the kernel: FP32 arithmetic, round-to-nearest-even to
// E4M3 with saturation. x is BF16 bits; q receives E4M3 bits.
void quantize_fp8_per_token_group_reference(const std::uint16_t* x, std::uint8_t* q, float* scales,
                                            int m, int k, int group_size, ScaleLayout layout);

}  // namespace shapejit::runtime
