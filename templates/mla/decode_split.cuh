#pragma once
// MLA decode, split-KV kernel (sm_90a): one CTA per (64-row query tile, SM part). Each SM part
// walks the contiguous run of KV blocks the metadata kernel gave it, one split per request it
// touches, and writes either the final output (a request with one split) or a normalised FP32
// partial and its LSE for the combine kernel.
//
// Roles: warp groups 0 and 1 do the math, warp group 2 loads Q and KV tiles into 128-byte-
// swizzled shared memory (cp.async with zero fill for BF16; load, dequantise, store for FP8).
// This is the default load path (MlaLoadPath::cp_async), the one the GPU runs proved
// (bench/proven-kernels.tsv); decode_split_tma.cuh is the TMA / bulk-copy alternative.
//
// KV tiles are 32 tokens x 576; the math consumes them in pairs (a, b):
//   WG0 computes S_a = Q K_a^T, WG1 computes S_b = Q K_b^T (m64n32k16, 36 k-steps each),
//   they exchange row maxima, each writes its P half (bf16) into one 64x64 tile,
//   then WG w computes O[:, 256w : 256w+256] += [P_a | P_b] [V_a ; V_b] (m64n256k16, B transposed).
// NOTES: the 64x512 FP32 accumulator is 128 registers per thread in each warp group; a single
// group would need 256. Splitting QK^T by KV tile (not by column) keeps QK^T free of redundant
// work, so both warp groups stay busy on tensor cores in the compute-bound configurations.
//
// Shared memory (bytes): Q 73,728 | 4 KV stages x 36,864 | P 8,192 | reductions 1,024 | barriers.
#include "common/fast_math.cuh"
#include "common/mbarrier.cuh"
#include "common/smem.cuh"
#include "common/types.cuh"
#include "common/warp.cuh"
#include "mla/decode_params.cuh"
#include "mla/decode_schedule.cuh"
#include "mla/decode_split_layout.cuh"
#include "mla/mla_ptx.cuh"

namespace shapejit::kernels {

template <int H_Q, int S_Q, int PAGE_SIZE, bool KV_FP8>
struct MlaSplitConfig {
  static constexpr int kRows = H_Q * S_Q;
  static constexpr int BLOCK_M = 64;
  static constexpr int BLOCK_N = 32;                     // tokens per KV tile
  static constexpr int kMTiles = (kRows + BLOCK_M - 1) / BLOCK_M;
  static constexpr int kStages = 4;
  static constexpr int kMathThreads = 256;
  static constexpr int kProducerThreads = 128;
  static constexpr int kThreads = kMathThreads + kProducerThreads;
  static constexpr int kColBlocks = 9;                   // 576 / 64
  static constexpr int kQBytes = kColBlocks * BLOCK_M * 128;
  static constexpr int kKvColBlockBytes = BLOCK_N * 128;
  static constexpr int kKvStageBytes = kColBlocks * kKvColBlockBytes;
  static constexpr int kPBytes = BLOCK_M * 128;
  static constexpr int kRedBytes = 4 * BLOCK_M * 4;
  static constexpr int kBarBytes = (2 * kStages + 2) * 8;
  static constexpr int kOffKv = kQBytes;
  static constexpr int kOffP = kOffKv + kStages * kKvStageBytes;
  static constexpr int kOffRed = kOffP + kPBytes;
  static constexpr int kOffBar = kOffRed + kRedBytes;
  static constexpr int kSmemBytes = kOffBar + kBarBytes + 1024;   // + alignment slack
  static constexpr int kPagesPerTile = PAGE_SIZE >= BLOCK_N ? 1 : BLOCK_N / PAGE_SIZE;
  static_assert(PAGE_SIZE == 16 || PAGE_SIZE == 32 || PAGE_SIZE == 64 || PAGE_SIZE == 128,
                "page size must be 16, 32, 64 or 128");
  static_assert(H_Q >= 1 && H_Q <= 128 && S_Q >= 1 && S_Q <= 16, "h_q in [1,128], s_q in [1,16]");
  static_assert(kSmemBytes <= 232448, "shared memory over the sm_90 limit");
  // The host launches with the layout header's numbers.
  static_assert(kThreads == mla_plan::kSplitThreads, "threads differ from decode_split_layout.cuh");
  static_assert(kSmemBytes == mla_plan::split_smem_bytes(false, KV_FP8),
                "shared memory differs from decode_split_layout.cuh");
};

namespace mla_detail {

using namespace shapejit::kernels::mla;

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a 128-byte-swizzled column block.
__device__ __forceinline__ uint32_t swz(int row, int chunk) {
  return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
}

struct SplitRange {
  int req, tok_begin, tok_end, seqlen, slot, single;
};

// Iterates the splits of one SM part in order; both roles walk the same sequence.
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

template <int H_Q, int S_Q, int PAGE_SIZE, bool KV_FP8, int NUM_SMS>
__global__ void __launch_bounds__(MlaSplitConfig<H_Q, S_Q, PAGE_SIZE, KV_FP8>::kThreads, 1)
    mla_decode_split(const shapejit::mla_plan::DecodeParams params) {
  using namespace shapejit::kernels::mla;
  using namespace shapejit::kernels::mla_detail;
  using Cfg = MlaSplitConfig<H_Q, S_Q, PAGE_SIZE, KV_FP8>;
  constexpr int kRows = Cfg::kRows;
  constexpr int BLOCK_M = Cfg::BLOCK_M;
  constexpr int BLOCK_N = Cfg::BLOCK_N;
  constexpr int kStages = Cfg::kStages;
  constexpr int kNumParts = NUM_SMS / Cfg::kMTiles > 0 ? NUM_SMS / Cfg::kMTiles : 1;
  constexpr int kTokenBytes = KV_FP8 ? mla_plan::kFp8TokenBytes : mla_plan::kHeadDim * 2;

  extern __shared__ unsigned char smem_raw[];
  const uint32_t smem_base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t sQ = smem_base;
  const uint32_t sKv = smem_base + Cfg::kOffKv;
  const uint32_t sP = smem_base + Cfg::kOffP;
  const uint32_t sRedMax = smem_base + Cfg::kOffRed;              // [2][64] f32
  const uint32_t sRedSum = sRedMax + 2 * BLOCK_M * 4;             // [2][64] f32
  const uint32_t bar_full = smem_base + Cfg::kOffBar;             // [kStages]
  const uint32_t bar_empty = bar_full + kStages * 8;              // [kStages]
  const uint32_t bar_q_full = bar_empty + kStages * 8;
  const uint32_t bar_q_empty = bar_q_full + 8;

  const int m_tile = blockIdx.x;
  const int part = blockIdx.y;
  const int tid = threadIdx.x;

  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(bar_full + 8 * s, Cfg::kProducerThreads);
      mbarrier_init(bar_empty + 8 * s, 2);
    }
    mbarrier_init(bar_q_full, Cfg::kProducerThreads);
    mbarrier_init(bar_q_empty, 2);
    fence_mbarrier_init();
  }
  __syncthreads();

  PartCursor cursor;
  cursor.init(params.meta, params.cache_seqlens, params.batch, kNumParts, part);
  SplitRange split;

  if (tid >= Cfg::kMathThreads) {
    // ------------------------------------------------------------------ producer
    asm volatile("setmaxnreg.dec.sync.aligned.u32 72;");
    const int pt = tid - Cfg::kMathThreads;
    const unsigned char* kv = static_cast<const unsigned char*>(params.k_cache);
    const unsigned char* qg = static_cast<const unsigned char*>(params.q);
    int tile_it = 0, split_it = 0;
    while (cursor.next(split)) {
      // Q tile: 64 rows x 72 chunks of 16 bytes; rows past the request's s_q*h_q are zero.
      mbar_wait(bar_q_empty, (split_it & 1) ^ 1);
      const unsigned char* q_req = qg + static_cast<long long>(split.req) * kRows * 1152;
      for (int i = pt; i < BLOCK_M * 72; i += Cfg::kProducerThreads) {
        const int row = i / 72, c = i % 72;
        const int grow = m_tile * BLOCK_M + row;
        const bool ok = grow < kRows;
        const uint32_t dst = sQ + (c >> 3) * (BLOCK_M * 128) + swz(row, c & 7);
        if constexpr (KV_FP8) {
          uint32_t v[4] = {0, 0, 0, 0};
          if (ok) ld_global_nc_v4(q_req + grow * 1152 + c * 16, v);
          st_shared_v4_u32(dst, v[0], v[1], v[2], v[3]);
        } else {
          cp_async_16(dst, ok ? q_req + grow * 1152 + c * 16 : qg, ok ? 16u : 0u);
        }
      }
      if constexpr (KV_FP8) {
        fence_proxy_async_smem();
        mbarrier_arrive(bar_q_full);
      } else {
        cp_async_arrive_noinc(bar_q_full);
      }
      ++split_it;

      const int* table = params.block_table + static_cast<long long>(split.req) * params.max_blocks_per_seq;
      for (int tok0 = split.tok_begin; tok0 < split.tok_end; tok0 += BLOCK_N, ++tile_it) {
        const int stage = tile_it % kStages;
        mbar_wait(bar_empty + 8 * stage, ((tile_it / kStages) & 1) ^ 1);
        const uint32_t tile = sKv + stage * Cfg::kKvStageBytes;
        int pages[Cfg::kPagesPerTile];
#pragma unroll
        for (int j = 0; j < Cfg::kPagesPerTile; ++j) {
          const int tok = tok0 + j * PAGE_SIZE;
          int pg = -1;
          if (tok < split.tok_end) {
            const int idx = tok / PAGE_SIZE;
            pg = idx < params.max_blocks_per_seq ? table[idx] : -1;
            if (pg < 0 || pg >= params.num_blocks) pg = -1;
          }
          pages[j] = pg;
        }
        auto row_src = [&](int row) -> const unsigned char* {
          const int tok = tok0 + row;
          // NOTES: a select, not pages[row / PAGE_SIZE]: a dynamic index puts the array in
          // local memory. A 32-token tile spans at most two pages (PAGE_SIZE >= 16).
          static_assert(Cfg::kPagesPerTile <= 2, "a KV tile spans at most two pages");
          const int pg = row < PAGE_SIZE ? pages[0] : pages[Cfg::kPagesPerTile - 1];
          if (tok >= split.tok_end || pg < 0) return nullptr;
          return kv + (static_cast<long long>(pg) * PAGE_SIZE + (tok % PAGE_SIZE)) * kTokenBytes;
        };
        if constexpr (!KV_FP8) {
          // NOTES: thread pt copies chunks pt, pt + 128, ... of the tile's 32 x 72; stepping
          // (row, c) by (1, 56) with a wrap avoids a division per chunk, which showed in the
          // producer's issue rate.
          static_assert(Cfg::kProducerThreads == 128 && BLOCK_N * 72 % 128 == 0, "producer layout");
          int row = pt / 72, c = pt % 72;
#pragma unroll 2
          for (int k = 0; k < BLOCK_N * 72 / 128; ++k) {
            const unsigned char* src = row_src(row);
            const uint32_t dst = tile + (c >> 3) * Cfg::kKvColBlockBytes + swz(row, c & 7);
            cp_async_16(dst, src ? src + c * 16 : kv, src ? 16u : 0u);
            row += 1;
            c += 56;
            if (c >= 72) c -= 72, row += 1;
          }
          cp_async_arrive_noinc(bar_full + 8 * stage);
        } else {
          // 40 work items per token: 32 chunks of 16 e4m3 values (-> 32 bytes of bf16 each)
          // and 8 chunks of RoPE bf16 values; 10 items per thread per tile.
          // NOTES: the loads of a batch are all issued before any is used, so a thread has
          // kBatch x 16 bytes in flight; one load at a time left the FP8 path at ~300 GB/s.
          constexpr int kItems = BLOCK_N * 40 / Cfg::kProducerThreads;
          constexpr int kBatch = 5;
          static_assert(kItems % kBatch == 0, "FP8 producer batches must divide the items");
#pragma unroll 1
          for (int b0 = 0; b0 < kItems; b0 += kBatch) {
            uint32_t v[kBatch][4];
            float scale[kBatch];
#pragma unroll
            for (int k = 0; k < kBatch; ++k) {
              const int i = pt + (b0 + k) * Cfg::kProducerThreads;
              const int row = i / 40, c = i % 40;
              const unsigned char* src = row_src(row);
              v[k][0] = v[k][1] = v[k][2] = v[k][3] = 0u;
              scale[k] = 0.f;
              if (src) {
                ld_global_nc_v4(src + (c < 32 ? c * 16 : 528 + (c - 32) * 16), v[k]);
                if (c < 32) scale[k] = *reinterpret_cast<const float*>(src + 512 + 4 * (c >> 3));
              }
            }
#pragma unroll
            for (int k = 0; k < kBatch; ++k) {
              const int i = pt + (b0 + k) * Cfg::kProducerThreads;
              const int row = i / 40, c = i % 40;
              if (c < 32) {
                uint32_t o[8];
#pragma unroll
                for (int w = 0; w < 4; ++w) {
                  float f0, f1, f2, f3;
                  e4m3x2_to_float2(static_cast<unsigned short>(v[k][w] & 0xffff), f0, f1);
                  e4m3x2_to_float2(static_cast<unsigned short>(v[k][w] >> 16), f2, f3);
                  o[2 * w] = float2_to_bf16x2(f0 * scale[k], f1 * scale[k]).bits;
                  o[2 * w + 1] = float2_to_bf16x2(f2 * scale[k], f3 * scale[k]).bits;
                }
                // columns 16c .. 16c+15: column block c/4, chunks 2(c%4) and 2(c%4)+1
                const uint32_t blk = tile + (c >> 2) * Cfg::kKvColBlockBytes;
                st_shared_v4_u32(blk + swz(row, 2 * (c & 3)), o[0], o[1], o[2], o[3]);
                st_shared_v4_u32(blk + swz(row, 2 * (c & 3) + 1), o[4], o[5], o[6], o[7]);
              } else {
                st_shared_v4_u32(tile + 8 * Cfg::kKvColBlockBytes + swz(row, c - 32), v[k][0], v[k][1],
                             v[k][2], v[k][3]);
              }
            }
          }
          fence_proxy_async_smem();
          mbarrier_arrive(bar_full + 8 * stage);
        }
      }
    }
    return;
  }

  // -------------------------------------------------------------------- math
  // NOTES: 128 x 72 + 256 x 216 = 64,512 <= 65,536 registers.
  asm volatile("setmaxnreg.inc.sync.aligned.u32 216;");
  const int wg = tid / 128;
  const int t = tid % 128;
  const int warp = t / 32, lane = t % 32;
  const int row0 = warp * 16 + lane / 4;          // this thread's rows: row0 and row0 + 8
  const int colq = (lane % 4) * 2;
  const float kNegInf = __int_as_float(0xff800000);   // NVRTC has no __builtin_huge_valf

  int s_of_row[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int g = m_tile * BLOCK_M + row0 + 8 * i;
    s_of_row[i] = g < kRows ? g / H_Q : S_Q - 1;
  }

  int tile_it = 0, split_it = 0;
  while (cursor.next(split)) {
    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.f;
    float m_run[2] = {kNegInf, kNegInf};
    float l_run[2] = {0.f, 0.f};
    int limit[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) limit[i] = split.seqlen - S_Q + 1 + s_of_row[i];

    mbar_wait(bar_q_full, split_it & 1);
    fence_proxy_async_smem();
    ++split_it;

    const int ntiles = (split.tok_end - split.tok_begin + BLOCK_N - 1) / BLOCK_N;
    for (int ta = 0; ta < ntiles; ta += 2) {
      const bool has_b = ta + 1 < ntiles;
      const int stage_a = tile_it % kStages;
      const int stage_b = (tile_it + 1) % kStages;
      mbar_wait(bar_full + 8 * stage_a, (tile_it / kStages) & 1);
      if (has_b) mbar_wait(bar_full + 8 * stage_b, ((tile_it + 1) / kStages) & 1);
      fence_proxy_async_smem();
      // NOTES: without a tile b, warp group 1 runs on tile a and masks everything, so P_b = 0 and
      // the PV k-steps read finite V_a data (rows past the sequence were zero-filled). No wgmma
      // sits in a divergent branch, which would make ptxas serialise them.
      const uint32_t tile_a = sKv + stage_a * Cfg::kKvStageBytes;
      const uint32_t tile_b = has_b ? sKv + stage_b * Cfg::kKvStageBytes : tile_a;
      const bool mine = (wg == 0) || has_b;
      const uint32_t my_tile = wg == 0 ? tile_a : tile_b;
      const int my_tok0 = split.tok_begin + (ta + wg) * BLOCK_N;

      // S = Q K^T for this warp group's tile.
      float s[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) s[i] = 0.f;
      {
        wgmma_fence();
#pragma unroll
        for (int kb = 0; kb < 9; ++kb) {
#pragma unroll
          for (int kk = 0; kk < 4; ++kk) {
            const uint64_t da = make_smem_desc_sw128(sQ + kb * (BLOCK_M * 128) + kk * 32, 16, 1024);
            const uint64_t db = make_smem_desc_sw128(my_tile + kb * Cfg::kKvColBlockBytes + kk * 32, 16, 1024);
            wgmma_m64n32k16_bf16_kmajor_b(s, da, db, kb + kk > 0);
          }
        }
        wgmma_commit();
        wgmma_wait<0>();
        fence_regs(s);
      }

      // Mask (causal, end of sequence) and scale into the log2 domain; row maxima.
      float mx[2] = {kNegInf, kNegInf};
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int key = my_tok0 + 8 * j + colq + e;
            float& v = s[4 * j + 2 * i + e];
            v = (mine && key < limit[i]) ? v * params.scale_log2 : kNegInf;
            mx[i] = fmax_f(mx[i], v);
          }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        mx[i] = fmax_f(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
        mx[i] = fmax_f(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
        if ((lane & 3) == 0) st_shared_f32(sRedMax + (wg * BLOCK_M + row0 + 8 * i) * 4, mx[i]);
      }
      named_barrier_sync(1, 256);
      float corr[2], base[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const float other = ld_shared_f32(sRedMax + ((1 - wg) * BLOCK_M + row0 + 8 * i) * 4);
        const float m_new = fmax_f(m_run[i], fmax_f(mx[i], other));
        base[i] = m_new == kNegInf ? 0.f : m_new;
        corr[i] = fast_exp2(m_run[i] - base[i]);
        m_run[i] = m_new;
        l_run[i] *= corr[i];
      }
      // P = exp2(S - m), into columns [32 wg, 32 wg + 32) of the shared 64x64 P tile.
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const float p0 = fast_exp2(s[4 * j + 2 * i] - base[i]);
          const float p1 = fast_exp2(s[4 * j + 2 * i + 1] - base[i]);
          l_run[i] += p0 + p1;
          const int row = row0 + 8 * i;
          const int col = wg * 32 + 8 * j + colq;
          st_shared_u32(sP + row * 128 + ((((col * 2) >> 4) ^ (row & 7)) << 4) + ((col * 2) & 15),
                        float2_to_bf16x2(p0, p1).bits);
        }
      fence_proxy_async_smem();
      named_barrier_sync(2, 256);

      // O = O * corr + P V over this warp group's 256 value columns.
#pragma unroll
      for (int j = 0; j < 32; ++j) {
        o[4 * j + 0] *= corr[0];
        o[4 * j + 1] *= corr[0];
        o[4 * j + 2] *= corr[1];
        o[4 * j + 3] *= corr[1];
      }
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < 2; ++ks) {
        const uint64_t da = make_smem_desc_sw128(sP + ks * 32, 16, 1024);
        const uint64_t db = make_smem_desc_sw128(tile_a + wg * 4 * Cfg::kKvColBlockBytes + ks * 16 * 128,
                                            Cfg::kKvColBlockBytes, 1024);
        wgmma_m64n256k16_bf16_mnmajor_b(o, da, db, true);
      }
      {
#pragma unroll
        for (int ks = 0; ks < 2; ++ks) {
          const uint64_t da = make_smem_desc_sw128(sP + 64 + ks * 32, 16, 1024);
          const uint64_t db = make_smem_desc_sw128(tile_b + wg * 4 * Cfg::kKvColBlockBytes + ks * 16 * 128,
                                              Cfg::kKvColBlockBytes, 1024);
          wgmma_m64n256k16_bf16_mnmajor_b(o, da, db, true);
        }
      }
      wgmma_commit();
      wgmma_wait<0>();
      fence_regs(o);
      if (t == 0) {
        mbarrier_arrive(bar_empty + 8 * stage_a);
        if (has_b) mbarrier_arrive(bar_empty + 8 * stage_b);
      }
      tile_it += has_b ? 2 : 1;
    }
    // Q is no longer read: the producer may load the next split's.
    if (t == 0) mbarrier_arrive(bar_q_empty);

    // Row sums: quad, then across the two warp groups (both used the same running maxima).
    float l_tot[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      l_run[i] += __shfl_xor_sync(0xffffffffu, l_run[i], 1);
      l_run[i] += __shfl_xor_sync(0xffffffffu, l_run[i], 2);
      if ((lane & 3) == 0) st_shared_f32(sRedSum + (wg * BLOCK_M + row0 + 8 * i) * 4, l_run[i]);
    }
    named_barrier_sync(1, 256);
#pragma unroll
    for (int i = 0; i < 2; ++i)
      l_tot[i] = ld_shared_f32(sRedSum + (row0 + 8 * i) * 4) +
                 ld_shared_f32(sRedSum + (BLOCK_M + row0 + 8 * i) * 4);
    // NOTES: the next split's first write of sRedSum comes after at least two more named
    // barriers, so no extra barrier is needed before the loads above are reused.

#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int grow = m_tile * BLOCK_M + row0 + 8 * i;
      if (grow >= kRows) continue;
      const float inv = l_tot[i] > 0.f ? 1.f / l_tot[i] : 0.f;
      const float lse_v = l_tot[i] > 0.f ? (m_run[i] + fast_log2(l_tot[i])) * 0.69314718055994531f
                                         : (split.single ? -kNegInf : kNegInf);
      const long long row_id = static_cast<long long>(split.req) * kRows + grow;
      if (split.single) {
        unsigned short* out = static_cast<unsigned short*>(params.out) + row_id * mla_plan::kValueDim + wg * 256;
#pragma unroll
        for (int j = 0; j < 32; ++j)
          *reinterpret_cast<uint32_t*>(out + 8 * j + colq) =
              float2_to_bf16x2(o[4 * j + 2 * i] * inv, o[4 * j + 2 * i + 1] * inv).bits;
        if (wg == 0 && (lane & 3) == 0) {
          const int sq = grow / H_Q, h = grow % H_Q;
          params.lse[(static_cast<long long>(split.req) * H_Q + h) * S_Q + sq] = lse_v;
        }
      } else {
        const long long prow = static_cast<long long>(split.slot) * kRows + grow;
        float* acc = params.o_accum + prow * mla_plan::kValueDim + wg * 256;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
          asm volatile("st.global.v2.f32 [%0], {%1, %2};" ::"l"(acc + 8 * j + colq),
                       "f"(o[4 * j + 2 * i] * inv), "f"(o[4 * j + 2 * i + 1] * inv)
                       : "memory");
        }
        if (wg == 0 && (lane & 3) == 0) params.lse_accum[prow] = lse_v;
      }
    }
  }
}

}  // namespace shapejit::kernels
