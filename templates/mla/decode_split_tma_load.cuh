#pragma once
// MLA decode split kernel, TMA / bulk-copy load path, producer warp group: the loads of Q and KV tiles.
//
// Warp 0 (one lane) issues every copy:
//   Q     TMA, 3D map over q [batch][h_q*s_q][576] BF16, 128-byte swizzle; rows past the
//         request's h_q*s_q are zero (out of the map, or never written when h_q*s_q < 64).
//   BF16  TMA, 2D map over the cache rows [num_blocks*page_size][576], 128-byte swizzle, one box
//         of min(page_size, 32) rows per 64 columns. Tokens past the split, and pages outside the
//         cache, are loaded from a row past the map's end, which TMA fills with zeros.
//   FP8   bulk copies of 16-token half tiles (16 x 656 contiguous bytes inside one page) into a
//         ring of raw buffers; warps 1..3 dequantise them into the BF16 tile layout the math
//         reads (e4m3 * scale rounded to BF16, RoPE copied), writing zeros for missing tokens.
#include "common/mbarrier.cuh"
#include "common/smem.cuh"
#include "common/tma.cuh"
#include "mla/decode_split_tma_config.cuh"

namespace shapejit::kernels::mla_detail {

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a 128-byte-swizzled column block,
// the layout TMA's 128-byte swizzle writes and the wgmma descriptors read.
__device__ __forceinline__ uint32_t swz(int row, int chunk) {
  return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
}

// Cache row of token `tok` of a request, or -1 when the token is past the split's end or its
// block-table entry is outside [0, num_blocks).
template <int PAGE_SIZE>
__device__ __forceinline__ int kv_cache_row(const mla_plan::DecodeParams& p, const int* table,
                                            int tok, int tok_end) {
  if (tok >= tok_end) return -1;
  const int idx = tok / PAGE_SIZE;
  const int page = idx < p.max_blocks_per_seq ? table[idx] : -1;
  if (page < 0 || page >= p.num_blocks) return -1;
  return page * PAGE_SIZE + tok % PAGE_SIZE;
}

// Tokens of the raw FP8 half tile starting at `tok` that the cache holds (0..kRawRows), and the
// cache row of the first one.
template <class Cfg, int PAGE_SIZE>
__device__ __forceinline__ int fp8_half_tile_rows(const mla_plan::DecodeParams& p,
                                                  const int* table, int tok, int tok_end,
                                                  int& first_row) {
  first_row = kv_cache_row<PAGE_SIZE>(p, table, tok, tok_end);
  if (first_row < 0) return 0;
  const int n = tok_end - tok;
  return n < Cfg::kRawRows ? n : Cfg::kRawRows;
}

template <class Cfg, int PAGE_SIZE, bool KV_FP8>
__device__ void mla_issue_loads(const TmaDescriptor* tmap_q, const TmaDescriptor* tmap_kv,
                                const mla_plan::DecodeParams& p, const MlaSplitTmaSmem<Cfg>& sm,
                                PartCursor cursor, int m_tile) {
  tma_prefetch_descriptor(tmap_q);
  if constexpr (!KV_FP8) tma_prefetch_descriptor(tmap_kv);
  // NOTES: a row past the map's end rather than a skipped box keeps every stage's byte count
  // the same; p.num_blocks * PAGE_SIZE < 2^31 is checked on the host.
  const int past_end_row = p.num_blocks * PAGE_SIZE;
  const unsigned char* cache = static_cast<const unsigned char*>(p.k_cache);
  SplitRange split;
  int tile_it = 0, split_it = 0, raw_it = 0;
  const int* table = nullptr;

  // One KV tile: BF16 straight into a stage; FP8 as two raw half tiles.
  auto issue_tile = [&](int tok0) {
    if constexpr (!KV_FP8) {
      const int stage = tile_it % Cfg::kStages;
      mbarrier_wait(sm.empty(stage), ((tile_it / Cfg::kStages) & 1) ^ 1);
      const uint32_t full = sm.full(stage);
      mbarrier_arrive_expect_tx(full, Cfg::kKvStageBytes);
#pragma unroll
      for (int j = 0; j < Cfg::kPagesPerTile; ++j) {
        const int row = kv_cache_row<PAGE_SIZE>(p, table, tok0 + j * Cfg::kKvBoxRows, split.tok_end);
        const uint32_t dst = sm.kv_tile(stage) + j * Cfg::kKvBoxRows * 128;
#pragma unroll 1
        for (int c = 0; c < Cfg::kColBlocks; ++c)
          tma_load_2d(dst + c * Cfg::kKvColBlockBytes, tmap_kv, full, 64 * c,
                      row < 0 ? past_end_row : row);
      }
    } else {
#pragma unroll
      for (int half = 0; half < Cfg::BLOCK_N / Cfg::kRawRows; ++half, ++raw_it) {
        const int slot = raw_it % Cfg::kRawStages;
        mbarrier_wait(sm.raw_empty(slot), ((raw_it / Cfg::kRawStages) & 1) ^ 1);
        int first_row;
        const int rows = fp8_half_tile_rows<Cfg, PAGE_SIZE>(p, table, tok0 + half * Cfg::kRawRows,
                                                            split.tok_end, first_row);
        const uint32_t bytes = static_cast<uint32_t>(rows * mla_plan::kFp8TokenBytes);
        mbarrier_arrive_expect_tx(sm.raw_full(slot), bytes);
        if (bytes != 0)
          bulk_load(sm.raw_tile(slot),
                    cache + static_cast<long long>(first_row) * mla_plan::kFp8TokenBytes, bytes,
                    sm.raw_full(slot));
      }
    }
    ++tile_it;
  };

  while (cursor.next(split)) {
    table = p.block_table + static_cast<long long>(split.req) * p.max_blocks_per_seq;
    const int ntiles = ceil_div(split.tok_end - split.tok_begin, Cfg::BLOCK_N);
    // NOTES: a split's first kStages tiles go out before its Q, which has to wait until the
    // math is done with the previous split. Those tiles only need stages the previous split
    // frees, so they cannot deadlock, and the next split's loads overlap the previous split's
    // last tiles and epilogue instead of starting after them.
    const int ahead = ntiles < Cfg::kStages ? ntiles : Cfg::kStages;
    int i = 0;
    for (; i < ahead; ++i) issue_tile(split.tok_begin + i * Cfg::BLOCK_N);

    mbarrier_wait(sm.q_empty(), (split_it & 1) ^ 1);
    mbarrier_arrive_expect_tx(sm.q_full(), Cfg::kQBoxBytes);
#pragma unroll 1
    for (int c = 0; c < Cfg::kColBlocks; ++c)
      tma_load_3d(sm.q + c * Cfg::kQColBlockBytes, tmap_q, sm.q_full(), 64 * c,
                  m_tile * Cfg::BLOCK_M, split.req);
    ++split_it;

    for (; i < ntiles; ++i) issue_tile(split.tok_begin + i * Cfg::BLOCK_N);
  }
}

// FP8 only: raw half tiles -> BF16 KV tiles. `wt` in [0, kDequantThreads).
template <class Cfg, int PAGE_SIZE>
__device__ void mla_dequantize_fp8(const mla_plan::DecodeParams& p, const MlaSplitTmaSmem<Cfg>& sm,
                                   PartCursor cursor, int wt) {
  // 40 work items per token: 32 chunks of 16 e4m3 values (-> 32 bytes of BF16 each) and 8 chunks
  // of 8 BF16 RoPE values.
  constexpr int kItemsPerRow = 40;
  constexpr int kItems = Cfg::kRawRows * kItemsPerRow;
  constexpr int kScaleOffset = 512;
  constexpr int kRopeOffset = 528;
  SplitRange split;
  int tile_it = 0, raw_it = 0;
  while (cursor.next(split)) {
    const int* table = p.block_table + static_cast<long long>(split.req) * p.max_blocks_per_seq;
    for (int tok0 = split.tok_begin; tok0 < split.tok_end; tok0 += Cfg::BLOCK_N, ++tile_it) {
      const int stage = tile_it % Cfg::kStages;
      mbarrier_wait(sm.empty(stage), ((tile_it / Cfg::kStages) & 1) ^ 1);
      const uint32_t tile = sm.kv_tile(stage);
#pragma unroll 1
      for (int half = 0; half < Cfg::BLOCK_N / Cfg::kRawRows; ++half, ++raw_it) {
        const int slot = raw_it % Cfg::kRawStages;
        int first_row;
        const int rows = fp8_half_tile_rows<Cfg, PAGE_SIZE>(p, table, tok0 + half * Cfg::kRawRows,
                                                            split.tok_end, first_row);
        mbarrier_wait(sm.raw_full(slot), (raw_it / Cfg::kRawStages) & 1);
        const uint32_t raw = sm.raw_tile(slot);
#pragma unroll 2
        for (int i = wt; i < kItems; i += Cfg::kDequantThreads) {
          const int r = i / kItemsPerRow, c = i % kItemsPerRow;
          const int row = half * Cfg::kRawRows + r;
          const uint32_t src = raw + r * mla_plan::kFp8TokenBytes;
          uint32_t v[4] = {0u, 0u, 0u, 0u};
          if (c < 32) {
            float scale = 0.f;
            if (r < rows) {
              ld_shared_v4_u32(src + c * 16, v);
              scale = ld_shared_f32(src + kScaleOffset + 4 * (c >> 3));
            }
            uint32_t o[8];
#pragma unroll
            for (int w = 0; w < 4; ++w) {
              float f0, f1, f2, f3;
              e4m3x2_to_float2(static_cast<uint16_t>(v[w] & 0xffff), f0, f1);
              e4m3x2_to_float2(static_cast<uint16_t>(v[w] >> 16), f2, f3);
              o[2 * w] = float2_to_bf16x2(f0 * scale, f1 * scale).bits;
              o[2 * w + 1] = float2_to_bf16x2(f2 * scale, f3 * scale).bits;
            }
            // columns 16c .. 16c+15: column block c/4, chunks 2(c%4) and 2(c%4)+1
            const uint32_t blk = tile + (c >> 2) * Cfg::kKvColBlockBytes;
            st_shared_v4_u32(blk + swz(row, 2 * (c & 3)), o[0], o[1], o[2], o[3]);
            st_shared_v4_u32(blk + swz(row, 2 * (c & 3) + 1), o[4], o[5], o[6], o[7]);
          } else {
            if (r < rows) ld_shared_v4_u32(src + kRopeOffset + (c - 32) * 16, v);
            st_shared_v4_u32(tile + 8 * Cfg::kKvColBlockBytes + swz(row, c - 32), v[0], v[1],
                             v[2], v[3]);
          }
        }
        mbarrier_arrive(sm.raw_empty(slot));
      }
      fence_proxy_async_smem();   // the BF16 tile is read by wgmma (async proxy)
      mbarrier_arrive(sm.full(stage));
    }
  }
}

}  // namespace shapejit::kernels::mla_detail
