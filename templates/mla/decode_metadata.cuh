#pragma once
// The MLA decode metadata kernel: runs the split plan (decode_schedule.cuh) on the GPU so the
// whole decode call can be captured in a CUDA graph. Its output is reusable across layers while
// cache_seqlens is unchanged.
//
// Launch: grid 1, block 32. One thread walks the requests (a few microseconds for a batch of a
// few hundred); the plan is sequential by nature and this kernel runs once per step, not per
// layer.
#include "mla/decode_schedule.cuh"

namespace shapejit::kernels {

template <int NUM_SM_PARTS>
__global__ void __launch_bounds__(32, 1)
    mla_decode_metadata(const int* __restrict__ cache_seqlens, int batch, int* __restrict__ meta) {
  static_assert(NUM_SM_PARTS >= 1, "NUM_SM_PARTS must be positive");
  if (threadIdx.x == 0) shapejit::mla_plan::plan_splits(cache_seqlens, batch, NUM_SM_PARTS, meta);
}

}  // namespace shapejit::kernels
