#pragma once
// N consecutive columns of one row, N a multiple of 8, for the tiled MoE kernels: BF16 loads
// into FP32, FP8 E4M3 stores with one scale, BF16 stores. 16-byte accesses throughout, except
// an 8-column FP8 store (8 bytes).
#include "moe/packed_io.cuh"

namespace shapejit::kernels::moe {

template <int N>
__device__ __forceinline__ void load_bf16_cols(const unsigned short* src, float (&v)[N]) {
  static_assert(N % 8 == 0, "8 BF16 columns per 16-byte load");
#pragma unroll
  for (int i = 0; i < N / 8; ++i) unpack_bf16x8(load_stream(src + 8 * i), v + 8 * i);
}

template <int N>
__device__ __forceinline__ void store_fp8_cols(unsigned char* dst, const float (&v)[N], float inv_scale) {
  static_assert(N % 8 == 0, "FP8 columns are stored 8 or 16 at a time");
  if constexpr (N == 8) {
    Packed8 q;
#pragma unroll
    for (int i = 0; i < 2; ++i)
      q.w[i] = pack_e4m3x4(v[4 * i] * inv_scale, v[4 * i + 1] * inv_scale, v[4 * i + 2] * inv_scale,
                           v[4 * i + 3] * inv_scale);
    store8(dst, q);
  } else {
    static_assert(N % 16 == 0, "more than 8 FP8 columns are stored 16 at a time");
#pragma unroll
    for (int s = 0; s < N / 16; ++s) {
      Packed16 q;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float* x = v + 16 * s + 4 * i;
        q.w[i] = pack_e4m3x4(x[0] * inv_scale, x[1] * inv_scale, x[2] * inv_scale, x[3] * inv_scale);
      }
      store16(dst + 16 * s, q);
    }
  }
}

template <int N>
__device__ __forceinline__ void store_bf16_cols(unsigned short* dst, const float (&v)[N]) {
  static_assert(N % 8 == 0, "8 BF16 columns per 16-byte store");
#pragma unroll
  for (int s = 0; s < N / 8; ++s) {
    Packed16 o;
#pragma unroll
    for (int i = 0; i < 4; ++i) o.w[i] = pack_bf16x2(v[8 * s + 2 * i], v[8 * s + 2 * i + 1]);
    store16(dst + 8 * s, o);
  }
}

}  // namespace shapejit::kernels::moe
