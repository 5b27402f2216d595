#pragma once
// Launch facts of the MLA decode split kernels that the host needs: threads per CTA and the
// dynamic shared memory of each load path. Plain constexpr C++ (enumerators and functions only:
// NVRTC's -default-device turns every namespace-scope variable into a global of the cubin), so
// runtime/mla/mla.cpp launches with these numbers. The kernels' configs (MlaSplitConfig in
// decode_split.cuh, MlaSplitTmaConfig in decode_split_tma_config.cuh) lay out the same bytes;
// tests/mla/mla_layout_test.cpp reads their kThreads and kSmemBytes from every compiled variant
// and checks them against these.
#include "mla/decode_params.cuh"

namespace shapejit::mla_plan {

enum : int {
  kSplitThreads = 384,          // two math warp groups and one producer warp group
  kSplitBlockN = 32,            // tokens per KV tile
  kSplitSmemAlignSlack = 1024,  // the kernels align their base to 1024 B by hand
};

// Bytes: the Q tile (64 x 576 BF16), the KV stages (32 x 576 BF16 each), the P tile (64 x 64
// BF16), the row max/sum exchange, the raw FP8 half tiles of the TMA path (16 cache rows each),
// a full and an empty mbarrier per stage and per raw tile plus two for Q, and the alignment slack.
constexpr int split_smem_bytes(bool tma_path, bool kv_fp8) {
  const bool dequant_ring = tma_path && kv_fp8;
  const int stages = dequant_ring ? 3 : 4;
  const int raw_stages = dequant_ring ? 3 : 0;
  const int q = 64 * kHeadDim * 2, kv = kSplitBlockN * kHeadDim * 2, p = 64 * 64 * 2;
  const int exchange = 4 * 64 * 4, raw = 16 * kFp8TokenBytes;
  const int barriers = 2 * stages + 2 + 2 * raw_stages;
  return q + stages * kv + p + raw_stages * raw + exchange + barriers * 8 + kSplitSmemAlignSlack;
}

}  // namespace shapejit::mla_plan
