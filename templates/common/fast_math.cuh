#pragma once
// Single-instruction approximate transcendentals (MUFU), as softmax uses them: exp2/log2 with
// ~2 ulp error, denormals flushed. NVRTC's libdevice versions add range handling not needed here.
#include "common/types.cuh"

namespace shapejit::kernels {

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float fast_log2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

}  // namespace shapejit::kernels
