#pragma once
// MLA decode split kernel, TMA / bulk-copy load path (decode_split_tma.cuh): compile-time configuration, shared-memory layout, and the cursor that
// walks an SM part's splits (every role walks the same sequence).
//
// Shared memory (bytes), 1024-aligned where wgmma or a 128-byte swizzle reads it:
//   Q 73,728 | KV stages (4 BF16, 3 FP8) x 36,864 | P 8,192 | raw FP8 half tiles (FP8: 3 x 10,496)
//   | row max/sum exchange 1,024 | mbarriers
#include "common/types.cuh"
#include "mla/decode_params.cuh"
#include "mla/decode_schedule.cuh"
#include "mla/decode_split_layout.cuh"

namespace shapejit::kernels {

template <int H_Q, int S_Q, int PAGE_SIZE, bool KV_FP8>
struct MlaSplitTmaConfig {
  static constexpr int kRows = H_Q * S_Q;
  static constexpr int BLOCK_M = 64;
  static constexpr int BLOCK_N = 32;                       // tokens per KV tile
  static constexpr int kMTiles = ceil_div(kRows, BLOCK_M);
  static constexpr int kQBoxRows = const_min(kRows, BLOCK_M);   // rows of one Q TMA box
  static constexpr int kStages = KV_FP8 ? 3 : 4;           // BF16 KV tiles the math reads
  static constexpr int kRawRows = 16;                      // tokens per raw FP8 half tile
  static constexpr int kRawStages = KV_FP8 ? 3 : 0;        // raw FP8 half tiles in flight
  static constexpr int kMathThreads = 256;
  static constexpr int kProducerThreads = 128;             // warp 0 issues loads, 1..3 dequantise
  static constexpr int kDequantThreads = 96;
  static constexpr int kThreads = kMathThreads + kProducerThreads;
  static constexpr int kColBlocks = 9;                     // 576 / 64 columns of 128 bytes
  static constexpr int kQColBlockBytes = BLOCK_M * 128;
  static constexpr int kQBytes = kColBlocks * kQColBlockBytes;
  static constexpr int kQBoxBytes = kColBlocks * kQBoxRows * 128;
  static constexpr int kKvColBlockBytes = BLOCK_N * 128;
  static constexpr int kKvStageBytes = kColBlocks * kKvColBlockBytes;
  static constexpr int kKvBoxRows = const_min(PAGE_SIZE, BLOCK_N);   // a box never spans pages
  static constexpr int kPagesPerTile = BLOCK_N / kKvBoxRows;
  static constexpr int kRawStageBytes = kRawRows * mla_plan::kFp8TokenBytes;
  static constexpr int kPBytes = BLOCK_M * 128;
  static constexpr int kRedBytes = 4 * BLOCK_M * 4;
  static constexpr int kBarriers = 2 * kStages + 2 + 2 * kRawStages;
  static constexpr int kOffKv = kQBytes;
  static constexpr int kOffP = kOffKv + kStages * kKvStageBytes;
  static constexpr int kOffRaw = kOffP + kPBytes;
  static constexpr int kOffRed = kOffRaw + kRawStages * kRawStageBytes;
  static constexpr int kOffBar = kOffRed + kRedBytes;
  static constexpr int kSmemBytes = kOffBar + kBarriers * 8 + 1024;   // + base alignment slack
  static_assert(PAGE_SIZE == 16 || PAGE_SIZE == 32 || PAGE_SIZE == 64 || PAGE_SIZE == 128,
                "page size must be 16, 32, 64 or 128");
  static_assert(H_Q >= 1 && H_Q <= 128 && S_Q >= 1 && S_Q <= 16, "h_q in [1,128], s_q in [1,16]");
  static_assert(mla_plan::kBlockTokens % BLOCK_N == 0, "a split ends on a KV tile boundary");
  static_assert(BLOCK_N % kRawRows == 0 && PAGE_SIZE % kRawRows == 0,
                "a raw FP8 half tile lies inside one page");
  static_assert(kOffKv % 1024 == 0 && kOffP % 1024 == 0 && kKvStageBytes % 1024 == 0,
                "128-byte-swizzled tiles need 1024-byte alignment");
  static_assert(kRawStageBytes % 16 == 0 && kOffRaw % 16 == 0, "bulk copies need 16-byte alignment");
  static_assert(kSmemBytes <= 232448, "shared memory over the sm_90 limit");
  // The host launches with the layout header's numbers.
  static_assert(kThreads == mla_plan::kSplitThreads, "threads differ from decode_split_layout.cuh");
  static_assert(kSmemBytes == mla_plan::split_smem_bytes(true, KV_FP8),
                "shared memory differs from decode_split_layout.cuh");
};

// Shared-memory addresses of one CTA's layout.
template <class Cfg>
struct MlaSplitTmaSmem {
  uint32_t q, kv, p, raw, red_max, red_sum, bars;

  __device__ explicit MlaSplitTmaSmem(uint32_t base)
      : q(base),
        kv(base + Cfg::kOffKv),
        p(base + Cfg::kOffP),
        raw(base + Cfg::kOffRaw),
        red_max(base + Cfg::kOffRed),                      // [2][64] f32
        red_sum(base + Cfg::kOffRed + 2 * Cfg::BLOCK_M * 4),   // [2][64] f32
        bars(base + Cfg::kOffBar) {}

  __device__ uint32_t kv_tile(int stage) const { return kv + stage * Cfg::kKvStageBytes; }
  __device__ uint32_t raw_tile(int slot) const { return raw + slot * Cfg::kRawStageBytes; }
  __device__ uint32_t full(int stage) const { return bars + 8 * stage; }
  __device__ uint32_t empty(int stage) const { return bars + 8 * (Cfg::kStages + stage); }
  __device__ uint32_t q_full() const { return bars + 8 * (2 * Cfg::kStages); }
  __device__ uint32_t q_empty() const { return bars + 8 * (2 * Cfg::kStages + 1); }
  __device__ uint32_t raw_full(int slot) const { return bars + 8 * (2 * Cfg::kStages + 2 + slot); }
  __device__ uint32_t raw_empty(int slot) const {
    return bars + 8 * (2 * Cfg::kStages + 2 + Cfg::kRawStages + slot);
  }
};

namespace mla_detail {

struct SplitRange {
  int req, tok_begin, tok_end, seqlen, slot, single;
};

// Iterates the splits of one SM part in order.
struct PartCursor {
  const int* meta;
  const int* seqlens;
  int batch, num_parts, part;
  int req, last_req;

  __device__ void init(const int* m, const int* sl, int b, int parts, int p) {
    meta = m;
    seqlens = sl;
    batch = b;
    num_parts = parts;
    part = p;
    req = m[p * mla_plan::kPartInts + 0];
    last_req = m[p * mla_plan::kPartInts + 3];
    if (last_req > batch - 1) last_req = batch - 1;
  }
  __device__ bool next(SplitRange& s) {
    const int* pm = meta + part * mla_plan::kPartInts;
    const int* prefix = meta + num_parts * mla_plan::kPartInts;
    while (req <= last_req) {
      const int r = req++;
      const int len = seqlens[r];
      const int n = mla_plan::blocks_of(len);
      const int start = (r == pm[0]) ? pm[1] : 0;
      int stop = (r == pm[3]) ? pm[4] : n;
      if (stop > n) stop = n;
      if (start >= stop) continue;
      s.req = r;
      s.seqlen = len;
      s.tok_begin = start * mla_plan::kBlockTokens;
      s.tok_end = stop * mla_plan::kBlockTokens < len ? stop * mla_plan::kBlockTokens : len;
      s.slot = prefix[r] + ((r == pm[0]) ? pm[2] : 0);
      s.single = (prefix[r + 1] - prefix[r]) == 1;
      return true;
    }
    return false;
  }
};

}  // namespace mla_detail
}  // namespace shapejit::kernels
