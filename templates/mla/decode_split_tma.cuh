#pragma once
// MLA decode, split-KV kernel with TMA / bulk-copy loads (sm_90a), a non-default alternative to
// mla_decode_split (decode_split.cuh, cp.async loads) until a GPU run proves it; same math, same
// results layout. One CTA per (64-row query tile, SM part). Each SM part
// walks the contiguous run of KV blocks the metadata kernel gave it, one split per request it
// touches, and writes either the final output (a request with one split) or a normalised FP32
// partial and its LSE for the combine kernel.
//
// Roles: warp groups 0 and 1 do the math; warp group 2 loads Q and KV tiles into 128-byte-
// swizzled shared memory (decode_split_tma_load.cuh: TMA for BF16, bulk copies + dequantisation
// for FP8).
//
// KV tiles are 32 tokens x 576; the math consumes them in pairs (a, b):
//   WG0 computes S_a = Q K_a^T, WG1 computes S_b = Q K_b^T (m64n32k16, 36 k-steps each),
//   they exchange row maxima, each writes its P half (bf16) into one 64x64 tile,
//   then WG w computes O[:, 256w : 256w+256] += [P_a | P_b] [V_a ; V_b] (m64n256k16, B transposed).
// NOTES: the 64x512 FP32 accumulator is 128 registers per thread in each warp group; a single
// group would need 256. Splitting QK^T by KV tile (not by column) keeps QK^T free of redundant
// work, so both warp groups stay busy on tensor cores in the compute-bound configurations.
#include "common/fast_math.cuh"
#include "common/mbarrier.cuh"
#include "common/smem.cuh"
#include "common/tma.cuh"
#include "common/warp.cuh"
#include "common/wgmma.cuh"
#include "mla/decode_params.cuh"
#include "mla/decode_schedule.cuh"
#include "mla/decode_split_tma_config.cuh"
#include "mla/decode_split_tma_load.cuh"

namespace shapejit::kernels {

namespace mla_detail {

// Zeroes rows [row_begin, row_end) of kBlocks 128-byte-wide column blocks, the first at
// `first`, each `block_bytes` long; `threads` threads, this one being number t.
// NOTES: row-major order with kBlocks known, so the index splits by constants; a run-time
// divisor here made ptxas spill in the math warp groups.
template <int kBlocks>
__device__ __forceinline__ void zero_rows(uint32_t first, int block_bytes, int row_begin,
                                          int row_end, int t, int threads) {
  constexpr int kChunksPerRow = 8;   // 16-byte chunks in a 128-byte row
  constexpr int kChunksPerRowAllBlocks = kBlocks * kChunksPerRow;
  for (int i = t; i < (row_end - row_begin) * kChunksPerRowAllBlocks; i += threads) {
    const int row = row_begin + i / kChunksPerRowAllBlocks;
    const int blk = (i / kChunksPerRow) % kBlocks;
    st_shared_v4_u32(first + blk * block_bytes + row * 128 + (i % kChunksPerRow) * 16, 0u, 0u, 0u,
                     0u);
  }
}

// Descriptor of V (B of P V) read MN-major from a KV tile: the 64-column blocks are
// kKvColBlockBytes apart (LBO), 8-token groups 1 KB apart (SBO).
template <class Cfg>
__device__ __forceinline__ uint64_t value_desc(uint32_t addr) {
  return make_wgmma_desc(addr, WgmmaSwizzle::k128B, Cfg::kKvColBlockBytes, 1024);
}

// Zeroes rows [valid_rows, BLOCK_N) of value columns [256 wg, 256 wg + 256) of a BF16 KV tile.
// Those rows hold whatever the cache has after the split's last token (NaN in the tests); their
// P is 0, but 0 * NaN is NaN in the P V product. Called by the 128 threads of warp group wg.
template <class Cfg>
__device__ __forceinline__ void zero_value_tail(uint32_t tile, int valid_rows, int wg, int t) {
  if (valid_rows >= Cfg::BLOCK_N) return;
  zero_rows<4>(tile + 4 * wg * Cfg::kKvColBlockBytes, Cfg::kKvColBlockBytes,
               valid_rows < 0 ? 0 : valid_rows, Cfg::BLOCK_N, t, 128);
}

}  // namespace mla_detail

template <int H_Q, int S_Q, int PAGE_SIZE, bool KV_FP8, int NUM_SMS>
__global__ void __launch_bounds__(MlaSplitTmaConfig<H_Q, S_Q, PAGE_SIZE, KV_FP8>::kThreads, 1)
    mla_decode_split_tma(const __grid_constant__ TmaDescriptor tmap_q,
                     const __grid_constant__ TmaDescriptor tmap_kv,
                     const shapejit::mla_plan::DecodeParams params) {
  using namespace shapejit::kernels::mla_detail;
  using Cfg = MlaSplitTmaConfig<H_Q, S_Q, PAGE_SIZE, KV_FP8>;
  constexpr int kRows = Cfg::kRows;
  constexpr int BLOCK_M = Cfg::BLOCK_M;
  constexpr int BLOCK_N = Cfg::BLOCK_N;
  constexpr int kStages = Cfg::kStages;
  constexpr int kNumParts = NUM_SMS / Cfg::kMTiles > 0 ? NUM_SMS / Cfg::kMTiles : 1;
  constexpr int kProducerRegs = 72;
  constexpr int kMathRegs = 216;   // 128 x 72 + 256 x 216 = 64,512 <= 65,536 registers

  extern __shared__ unsigned char smem_raw[];
  const MlaSplitTmaSmem<Cfg> sm((smem_addr(smem_raw) + 1023u) & ~1023u);
  const uint32_t sQ = sm.q;
  const uint32_t sP = sm.p;
  const uint32_t sRedMax = sm.red_max;
  const uint32_t sRedSum = sm.red_sum;

  const int m_tile = blockIdx.x;
  const int part = blockIdx.y;
  const int tid = threadIdx.x;

  if (tid == 0) {
    const uint32_t kv_writers = KV_FP8 ? Cfg::kDequantThreads : 1;
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(sm.full(s), kv_writers);
      mbarrier_init(sm.empty(s), 2);
    }
    mbarrier_init(sm.q_full(), 1);
    mbarrier_init(sm.q_empty(), 2);
    for (int s = 0; s < Cfg::kRawStages; ++s) {
      mbarrier_init(sm.raw_full(s), 1);
      mbarrier_init(sm.raw_empty(s), Cfg::kDequantThreads);
    }
    fence_mbarrier_init();
  }
  if constexpr (Cfg::kQBoxRows < BLOCK_M) {
    // Q rows no TMA box covers (h_q * s_q < 64) are read by the MMAs: keep them zero.
    zero_rows<Cfg::kColBlocks>(sQ, Cfg::kQColBlockBytes, Cfg::kQBoxRows, BLOCK_M, tid,
                               Cfg::kThreads);
    fence_proxy_async_smem();
  }
  __syncthreads();

  PartCursor cursor;
  cursor.init(params.meta, params.cache_seqlens, params.batch, kNumParts, part);
  SplitRange split;

  if (tid >= Cfg::kMathThreads) {
    // ------------------------------------------------------------------ producer
    setmaxnreg_dec<kProducerRegs>();
    const int pt = tid - Cfg::kMathThreads;
    if (pt == 0) {
      mla_issue_loads<Cfg, PAGE_SIZE, KV_FP8>(&tmap_q, &tmap_kv, params, sm, cursor, m_tile);
    } else if (pt >= 32) {
      if constexpr (KV_FP8) mla_dequantize_fp8<Cfg, PAGE_SIZE>(params, sm, cursor, pt - 32);
    }
    return;
  }

  // -------------------------------------------------------------------- math
  setmaxnreg_inc<kMathRegs>();
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

    mbarrier_wait(sm.q_full(), split_it & 1);
    ++split_it;

    const int ntiles = (split.tok_end - split.tok_begin + BLOCK_N - 1) / BLOCK_N;
    for (int ta = 0; ta < ntiles; ta += 2) {
      const bool has_b = ta + 1 < ntiles;
      const int stage_a = tile_it % kStages;
      const int stage_b = (tile_it + 1) % kStages;
      mbarrier_wait(sm.full(stage_a), (tile_it / kStages) & 1);
      if (has_b) mbarrier_wait(sm.full(stage_b), ((tile_it + 1) / kStages) & 1);
      // NOTES: without a tile b, warp group 1 runs on tile a and masks everything, so P_b = 0 and
      // the PV k-steps read finite V_a data (rows past the split are zero, see zero_value_tail).
      // No wgmma sits in a divergent branch, which would make ptxas serialise them.
      const uint32_t tile_a = sm.kv_tile(stage_a);
      const uint32_t tile_b = has_b ? sm.kv_tile(stage_b) : tile_a;
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
            const uint64_t da = make_kmajor_desc<128>(sQ + kb * (BLOCK_M * 128) + kk * 32);
            const uint64_t db = make_kmajor_desc<128>(my_tile + kb * Cfg::kKvColBlockBytes + kk * 32);
            WgmmaBF16<32>::mma(da, db, s, kb + kk > 0);
          }
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_reg_fence(s);
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
            mx[i] = fmaxf(mx[i], v);
          }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
        mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
        if ((lane & 3) == 0) st_shared_f32(sRedMax + (wg * BLOCK_M + row0 + 8 * i) * 4, mx[i]);
      }
      named_barrier_sync(1, 256);
      float corr[2], base[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const float other = ld_shared_f32(sRedMax + ((1 - wg) * BLOCK_M + row0 + 8 * i) * 4);
        const float m_new = fmaxf(m_run[i], fmaxf(mx[i], other));
        base[i] = m_new == kNegInf ? 0.f : m_new;
        corr[i] = fast_exp2(m_run[i] - base[i]);
        m_run[i] = m_new;
        l_run[i] *= corr[i];
      }
      if constexpr (!KV_FP8) {
        // Both groups' Q K^T reads of the tiles are complete (each waited before the barrier).
        const int tok0_a = split.tok_begin + ta * BLOCK_N;
        zero_value_tail<Cfg>(tile_a, split.tok_end - tok0_a, wg, t);
        if (has_b) zero_value_tail<Cfg>(tile_b, split.tok_end - tok0_a - BLOCK_N, wg, t);
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
      // The rescaled accumulators must be in their registers before the fence, or ptxas
      // inserts its own warpgroup.arrive before the MMA.
      wgmma_reg_fence(o);
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < 2; ++ks) {
        const uint64_t da = make_kmajor_desc<128>(sP + ks * 32);
        const uint64_t db = value_desc<Cfg>(tile_a + wg * 4 * Cfg::kKvColBlockBytes + ks * 16 * 128);
        WgmmaBF16<256>::mma<true>(da, db, o, true);
      }
      {
#pragma unroll
        for (int ks = 0; ks < 2; ++ks) {
          const uint64_t da = make_kmajor_desc<128>(sP + 64 + ks * 32);
          const uint64_t db = value_desc<Cfg>(tile_b + wg * 4 * Cfg::kKvColBlockBytes + ks * 16 * 128);
          WgmmaBF16<256>::mma<true>(da, db, o, true);
        }
      }
      wgmma_commit();
      wgmma_wait<0>();
      wgmma_reg_fence(o);
      if (t == 0) {
        mbarrier_arrive(sm.empty(stage_a));
        if (has_b) mbarrier_arrive(sm.empty(stage_b));
      }
      tile_it += has_b ? 2 : 1;
    }
    // Q is no longer read: the producer may load the next split's.
    if (t == 0) mbarrier_arrive(sm.q_empty());

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
