#pragma once
// Packed element access for the MoE kernels: 16-byte global loads and stores, BF16 <-> FP32
// unpacking and FP32 -> FP8 E4M3 / BF16 packing through PTX cvt. Plain built-in types only, so
// the header needs no CUDA toolkit include.

namespace shapejit::kernels::moe {

struct alignas(16) Packed16 {
  unsigned w[4];
};
struct alignas(8) Packed8 {
  unsigned w[2];
};

// FP8 E4M3 largest finite value.
constexpr float kFp8E4M3Max = 448.0f;
// NOTES: an all-zero 128-group would give scale 0 and 0/0 on dequantization; the amax floor
// keeps the scale finite (the group then quantizes to zeros exactly).
constexpr float kAmaxFloor = 1e-4f;

// Read-only input, read once: bypass L1 allocation.
__device__ __forceinline__ Packed16 load_stream(const void* ptr) {
  Packed16 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.w[0]), "=r"(v.w[1]), "=r"(v.w[2]), "=r"(v.w[3])
               : "l"(ptr));
  return v;
}

__device__ __forceinline__ void store16(void* ptr, const Packed16& v) {
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(ptr), "r"(v.w[0]), "r"(v.w[1]),
               "r"(v.w[2]), "r"(v.w[3])
               : "memory");
}

__device__ __forceinline__ void store8(void* ptr, const Packed8& v) {
  asm volatile("st.global.v2.u32 [%0], {%1, %2};" ::"l"(ptr), "r"(v.w[0]), "r"(v.w[1]) : "memory");
}

// Two BF16 packed in a 32-bit word, element 0 in the low half.
__device__ __forceinline__ float bf16_lo(unsigned w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float bf16_hi(unsigned w) { return __uint_as_float(w & 0xffff0000u); }

// Unpacks 8 BF16 values.
__device__ __forceinline__ void unpack_bf16x8(const Packed16& v, float* out) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = bf16_lo(v.w[i]);
    out[2 * i + 1] = bf16_hi(v.w[i]);
  }
}

// Round-to-nearest-even BF16 pair, lo in the low half.
__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
  unsigned d;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}

// Saturating round-to-nearest FP8 E4M3 pair, lo in the low byte.
__device__ __forceinline__ unsigned pack_e4m3x2(float lo, float hi) {
  unsigned short d;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(d) : "f"(hi), "f"(lo));
  return d;
}

// Four FP8 E4M3 values in one 32-bit word, element 0 in the low byte.
__device__ __forceinline__ unsigned pack_e4m3x4(float a, float b, float c, float d) {
  return pack_e4m3x2(a, b) | (pack_e4m3x2(c, d) << 16);
}

// Max over the kLanes consecutive lanes that share one 128-wide quantization group.
template <int kLanes>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int mask = kLanes / 2; mask > 0; mask /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, mask));
  return v;
}

// Quantizes 16 FP32 values with one shared scale into 16 FP8 bytes.
__device__ __forceinline__ Packed16 quantize16(const float (&v)[16], float inv_scale) {
  Packed16 q;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    q.w[i] = pack_e4m3x4(v[4 * i] * inv_scale, v[4 * i + 1] * inv_scale, v[4 * i + 2] * inv_scale,
                         v[4 * i + 3] * inv_scale);
  return q;
}

}  // namespace shapejit::kernels::moe
