#pragma once
// Shared-memory addresses and the memory-proxy fences around TMA and wgmma.
#include "common/types.cuh"

namespace shapejit::kernels {

// The 32-bit shared-window address of a generic pointer into shared memory.
// NOTES: done in PTX on the run-time pointer so the value never folds to a compile-time
// constant: NVRTC 13.0 crashes on wgmma whose descriptors are compile-time constants.
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  uint32_t r;
  asm volatile("{\n .reg .u64 a;\n cvta.to.shared.u64 a, %1;\n cvt.u32.u64 %0, a;\n}"
               : "=r"(r)
               : "l"(p));
  return r;
}

// Orders this thread's generic-proxy writes to shared memory before later async-proxy reads
// (a TMA store or wgmma reading what threads just wrote).
__device__ __forceinline__ void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// Orders generic-proxy global writes before later async-proxy (TMA) accesses to them.
__device__ __forceinline__ void fence_proxy_async_global() {
  asm volatile("fence.proxy.async.global;" ::: "memory");
}

__device__ __forceinline__ void fence_acq_rel_cta() { asm volatile("fence.acq_rel.cta;" ::: "memory"); }
__device__ __forceinline__ void fence_acq_rel_gpu() { asm volatile("fence.acq_rel.gpu;" ::: "memory"); }

__device__ __forceinline__ float ld_shared_f32(uint32_t addr) {
  float v;
  asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr));
  return v;
}

__device__ __forceinline__ void ld_shared_v4_u32(uint32_t addr, uint32_t (&v)[4]) {
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v[0]), "=r"(v[1]), "=r"(v[2]), "=r"(v[3])
               : "r"(addr)
               : "memory");
}

__device__ __forceinline__ void st_shared_f32(uint32_t addr, float v) {
  asm volatile("st.shared.f32 [%0], %1;" ::"r"(addr), "f"(v) : "memory");
}

__device__ __forceinline__ void st_shared_u32(uint32_t addr, uint32_t v) {
  asm volatile("st.shared.u32 [%0], %1;" ::"r"(addr), "r"(v) : "memory");
}

__device__ __forceinline__ void st_shared_v2_u32(uint32_t addr, uint32_t a, uint32_t b) {
  asm volatile("st.shared.v2.u32 [%0], {%1, %2};" ::"r"(addr), "r"(a), "r"(b) : "memory");
}

__device__ __forceinline__ void st_shared_v4_u32(uint32_t addr, uint32_t a, uint32_t b, uint32_t c,
                                                 uint32_t d) {
  asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};" ::"r"(addr), "r"(a), "r"(b), "r"(c),
               "r"(d)
               : "memory");
}

// Read-only global loads that bypass L1 allocation for data read once per CTA.
__device__ __forceinline__ float ld_global_nc_f32(const float* p) {
  float v;
  asm volatile("ld.global.nc.L1::no_allocate.f32 %0, [%1];" : "=f"(v) : "l"(p));
  return v;
}

__device__ __forceinline__ int ld_global_nc_s32(const int* p) {
  int v;
  asm volatile("ld.global.nc.L1::no_allocate.s32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}

__device__ __forceinline__ void st_global_v4_u32(void* p, uint32_t a, uint32_t b, uint32_t c,
                                                 uint32_t d) {
  asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(a), "r"(b), "r"(c), "r"(d)
               : "memory");
}

// Byte offset inside a TMA-swizzled tile (tile base aligned to the swizzle's repeat: 256 B for
// 32 B, 512 B for 64 B, 1024 B for 128 B). kSwizzleBytes = 0 means no swizzle.
template <int kSwizzleBytes>
__device__ __forceinline__ uint32_t swizzled_offset(uint32_t linear) {
  static_assert(kSwizzleBytes == 0 || kSwizzleBytes == 32 || kSwizzleBytes == 64 ||
                    kSwizzleBytes == 128,
                "swizzle must be 0, 32, 64 or 128 bytes");
  if constexpr (kSwizzleBytes == 0) {
    return linear;
  } else {
    constexpr uint32_t kMask = kSwizzleBytes / 16 - 1;   // 16-byte chunks in a swizzled row
    return linear ^ (((linear >> 7) & kMask) << 4);
  }
}

}  // namespace shapejit::kernels
