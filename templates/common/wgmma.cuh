#pragma once
// wgmma (sm_90a) support: shared-memory matrix descriptors and the warp-group fence / commit /
// wait. The instructions themselves, one wrapper per N, are in common/wgmma_ops.cuh.
#include "common/types.cuh"

namespace shapejit::kernels {

// Swizzle mode field of a wgmma descriptor (bits 62-63).
enum class WgmmaSwizzle : uint32_t { kNone = 0, k128B = 1, k64B = 2, k32B = 3 };

// Descriptor of a K-major operand tile in shared memory written by TMA with the matching
// swizzle: rows of kSwizzleBytes, 8-row core-matrix groups kSwizzleBytes*8 apart.
// NOTES: start from a run-time shared address (smem_addr), never a constant (see smem.cuh).
__device__ __forceinline__ uint64_t make_wgmma_desc(uint32_t smem_address, WgmmaSwizzle swizzle,
                                                    uint32_t leading_byte_offset,
                                                    uint32_t stride_byte_offset) {
  uint64_t desc = 0;
  desc |= static_cast<uint64_t>((smem_address & 0x3ffff) >> 4);
  desc |= static_cast<uint64_t>((leading_byte_offset >> 4) & 0x3fff) << 16;
  desc |= static_cast<uint64_t>((stride_byte_offset >> 4) & 0x3fff) << 32;
  desc |= static_cast<uint64_t>(static_cast<uint32_t>(swizzle)) << 62;
  return desc;
}

// K-major tile with rows of kRowBytes (32, 64 or 128) and the matching TMA swizzle.
template <int kRowBytes>
__device__ __forceinline__ uint64_t make_kmajor_desc(uint32_t smem_address) {
  static_assert(kRowBytes == 32 || kRowBytes == 64 || kRowBytes == 128, "row bytes 32/64/128");
  constexpr WgmmaSwizzle kMode = kRowBytes == 128  ? WgmmaSwizzle::k128B
                                 : kRowBytes == 64 ? WgmmaSwizzle::k64B
                                                   : WgmmaSwizzle::k32B;
  return make_wgmma_desc(smem_address, kMode, 16, kRowBytes * 8);
}

// Moves a descriptor's start address by `bytes` (a multiple of 16): the step along K inside a
// swizzled row, or to the next 8-row group.
__device__ __forceinline__ uint64_t advance_wgmma_desc(uint64_t desc, uint32_t bytes) {
  return desc + static_cast<uint64_t>(bytes >> 4);
}

// Makes prior register/shared writes visible to the following wgmma of this warp group.
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}

__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}

// Waits until at most kPending committed wgmma groups are outstanding.
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

// Keeps the compiler from moving accumulator reads/writes across an async wgmma.
__device__ __forceinline__ void wgmma_reg_fence(float& r) { asm volatile("" : "+f"(r)::"memory"); }

template <int kCount>
__device__ __forceinline__ void wgmma_reg_fence(float (&r)[kCount]) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) wgmma_reg_fence(r[i]);
}

// Accumulator fragment layout of m64nN (per thread of the warp group, t = 0..127):
// register 4*j + {0,1,2,3} holds rows {r, r, r+8, r+8}, columns {8j+c, 8j+c+1, 8j+c, 8j+c+1}
// with r = 16*(t/32) + (t%32)/4 and c = 2*(t%4).
__device__ __forceinline__ int wgmma_accum_row(int thread_in_group) {
  return 16 * (thread_in_group / 32) + (thread_in_group % 32) / 4;
}
__device__ __forceinline__ int wgmma_accum_col(int thread_in_group) {
  return 2 * (thread_in_group % 4);
}

}  // namespace shapejit::kernels

#include "common/wgmma_ops.cuh"
