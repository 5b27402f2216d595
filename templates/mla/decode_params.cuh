#pragma once
// Arguments of the MLA decode split and combine kernels, passed by value. Plain C++ so the host
// (runtime/mla/mla.cpp) fills the same struct it launches with. The TMA split kernel
// (decode_split_tma.cuh) reads q, and a BF16 cache, through tensor maps instead of these pointers.
//
// Row packing: query head h of query token s is row m = s * h_q + h of the request, which is
// the memory order of q [batch, s_q, h_q, 576] and out [batch, s_q, h_q, 512].

namespace shapejit::mla_plan {

constexpr int kHeadDim = 576;      // 512 latent + 64 RoPE
constexpr int kValueDim = 512;
constexpr int kFp8TokenBytes = 656;   // 512 e4m3 + 4 FP32 scales + 64 BF16 RoPE values

struct DecodeParams {
  const void* q;              // [batch, s_q, h_q, 576] BF16
  const void* k_cache;        // [num_blocks, page_size, 576] BF16, or [.., .., 656] bytes (FP8)
  const int* block_table;     // [batch, max_blocks_per_seq]
  const int* cache_seqlens;   // [batch]
  const int* meta;            // the split plan (decode_schedule.cuh)
  void* out;                  // [batch, s_q, h_q, 512] BF16
  float* lse;                 // [batch, h_q, s_q], natural log
  float* o_accum;             // [max_total_splits, s_q * h_q, 512] FP32, normalised partials
  float* lse_accum;           // [max_total_splits, s_q * h_q], natural log, -inf: no key
  int batch;
  int max_blocks_per_seq;
  int num_blocks;
  float scale_log2;           // softmax_scale * log2(e)
};

}  // namespace shapejit::mla_plan
