#pragma once
// Fixed-width integers and the storage types of the kernels (BF16, FP8 E4M3), with conversions
// done by single PTX cvt instructions. NVRTC sees no toolkit headers, so these are the kernels'
// only definitions of them.

namespace shapejit::kernels {

using int8_t = signed char;
using uint8_t = unsigned char;
using int16_t = short;
using uint16_t = unsigned short;
using int32_t = int;
using uint32_t = unsigned int;
using int64_t = long long;
using uint64_t = unsigned long long;
static_assert(sizeof(uint64_t) == 8 && sizeof(uint32_t) == 4 && sizeof(uint16_t) == 2, "widths");

// BF16 and FP8 E4M3 are stored as raw bits; arithmetic is done in FP32.
struct alignas(2) bf16_t {
  uint16_t bits;
};
struct alignas(1) fp8_e4m3_t {
  uint8_t bits;
};
struct alignas(4) bf16x2_t {
  uint32_t bits;   // element 0 in the low half
};

__device__ __forceinline__ float bf16_to_float(bf16_t v) {
  return __uint_as_float(static_cast<uint32_t>(v.bits) << 16);
}

__device__ __forceinline__ bf16_t float_to_bf16(float v) {
  uint16_t r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(v));
  return bf16_t{r};
}

// lo goes to element 0 (low 16 bits), hi to element 1.
__device__ __forceinline__ bf16x2_t float2_to_bf16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return bf16x2_t{r};
}

__device__ __forceinline__ void bf16x2_to_float2(bf16x2_t v, float& lo, float& hi) {
  lo = __uint_as_float(v.bits << 16);
  hi = __uint_as_float(v.bits & 0xffff0000u);
}

// Round to nearest, saturate to the finite range (±448).
__device__ __forceinline__ uint16_t float2_to_e4m3x2(float lo, float hi) {
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return r;
}

__device__ __forceinline__ fp8_e4m3_t float_to_e4m3(float v) {
  return fp8_e4m3_t{static_cast<uint8_t>(float2_to_e4m3x2(v, 0.0f) & 0xff)};
}

__device__ __forceinline__ void e4m3x2_to_float2(uint16_t v, float& lo, float& hi) {
  uint32_t h2;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h2) : "h"(v));
  asm("{\n .reg .b16 l, h;\n mov.b32 {l, h}, %2;\n cvt.f32.f16 %0, l;\n cvt.f32.f16 %1, h;\n}"
      : "=f"(lo), "=f"(hi)
      : "r"(h2));
}

__device__ __forceinline__ float e4m3_to_float(fp8_e4m3_t v) {
  float lo, hi;
  e4m3x2_to_float2(v.bits, lo, hi);
  return lo;
}

template <typename T>
struct TypeBytes {
  static constexpr int value = sizeof(T);
};

template <typename A, typename B>
struct IsSame {
  static constexpr bool value = false;
};
template <typename A>
struct IsSame<A, A> {
  static constexpr bool value = true;
};

__host__ __device__ constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }
__host__ __device__ constexpr int align_up(int a, int b) { return ceil_div(a, b) * b; }
__host__ __device__ constexpr int const_min(int a, int b) { return a < b ? a : b; }
__host__ __device__ constexpr int const_max(int a, int b) { return a > b ? a : b; }

}  // namespace shapejit::kernels
