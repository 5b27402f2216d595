#pragma once
// FP8 E4M3 GEMM, NT layout, with 1D2D fine-grained scaling, for Hopper (sm_90a):
//
//   D[m, n] (BF16) = Σ_kb  sa[kb][m] · sb[n/128][kb] · Σ_{k in block kb} A[m, k] · B[n, k]
//
// A [M, K] row-major FP8, scaled per 1x128 (sa: FP32, M-major [K/128][align(M, 4)], what
// quantization writes with ScaleLayout::m_major, see runtime/scale_layout.hpp); B [N, K]
// row-major FP8, scaled per 128x128 block (sb: FP32 row-major [ceil(N/128)][K/128]). Grouped
// variants (kGemmType, see gemm/tile_scheduler.cuh) add a leading group dimension to B and sb;
// the masked layout stacks groups in A [G * M_max, K], its scales [K/128][align(G * M_max, 4)]
// and D [G, M_max, N] (D's tensor map is 3-D so stores stop at each group's M_max).
//
// Structure: one producer warp group (a single thread issues TMA) and BLOCK_M/64 math warp
// groups of wgmma; a kNumStages ring of shared-memory stages guarded by full/empty mbarriers;
// a persistent grid of NUM_SMS CTAs; optional 2-CTA cluster whose CTAs share one operand by
// TMA multicast; BF16 epilogue through swizzled shared memory and TMA stores.
#include "common/cluster.cuh"
#include "common/mbarrier.cuh"
#include "common/smem.cuh"
#include "common/tma.cuh"
#include "common/types.cuh"
#include "common/warp.cuh"
#include "common/wgmma.cuh"
#include "gemm/epilogue.cuh"
#include "gemm/gemm_layout.cuh"
#include "gemm/tile_scheduler.cuh"

namespace shapejit::kernels {

template <int SHAPE_M, int SHAPE_N, int SHAPE_K, int BLOCK_M, int BLOCK_N, int kNumStages,
          int kNumMulticast, bool kMulticastOnA, int kSwizzleDBytes, int NUM_SMS, int kGemmType,
          int kNumGroups>
__global__ void __launch_bounds__(gemm_threads(BLOCK_M), 1)
    sm90_fp8_gemm_1d2d(const __grid_constant__ TmaDescriptor tmap_a,
                       const __grid_constant__ TmaDescriptor tmap_b,
                       const __grid_constant__ TmaDescriptor tmap_sa,
                       const __grid_constant__ TmaDescriptor tmap_d, const float* scale_b,
                       const int* grouped_layout, uint32_t shape_m) {
  constexpr int BLOCK_K = 128;
  constexpr int kNumMathWarpGroups = BLOCK_M / 64;
  constexpr int kNumMathThreads = kNumMathWarpGroups * 128;
  constexpr int kNumKBlocks = SHAPE_K / BLOCK_K;
  constexpr int kNumNScaleBlocks = ceil_div(SHAPE_N, 128);
  constexpr int kClusterM = (kNumMulticast > 1 && !kMulticastOnA) ? 2 : 1;
  constexpr int kClusterN = (kNumMulticast > 1 && kMulticastOnA) ? 2 : 1;
  constexpr int kNumAccum = BLOCK_N / 2;
  // B scale blocks a BLOCK_N-wide tile can touch.
  constexpr int kNumSB = (128 % BLOCK_N == 0)   ? 1
                         : (BLOCK_N % 128 == 0) ? BLOCK_N / 128
                                                : BLOCK_N / 128 + 2;
  using Smem = Fp8GemmSmem<BLOCK_M, BLOCK_N, kNumStages>;
  using Epilogue = WarpGroupEpilogue<BLOCK_N, false, kSwizzleDBytes>;
  using Scheduler = TileScheduler<kGemmType, SHAPE_N, BLOCK_M, BLOCK_N, kNumGroups, kClusterM,
                                  kClusterN, NUM_SMS / kNumMulticast>;
  static_assert(SHAPE_K % BLOCK_K == 0 && SHAPE_K > 0, "K must be a multiple of 128");
  static_assert(SHAPE_N > 0 && SHAPE_N % 8 == 0, "N must be a multiple of 8");
  static_assert(BLOCK_M == 64 || BLOCK_M == 128, "BLOCK_M is 64 or 128");
  static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 16 && BLOCK_N <= 256, "BLOCK_N 16..256, /16");
  static_assert(kNumMulticast == 1 || kNumMulticast == 2, "multicast over 1 or 2 CTAs");
  static_assert(NUM_SMS % kNumMulticast == 0, "the grid is a whole number of clusters");
  static_assert(Smem::kTotal + kGemmSmemAlignSlack <= kGemmMaxSmemBytes, "stages exceed 227 KiB");
  static_assert(Epilogue::kTileBytes * kNumMathWarpGroups == Smem::kD, "D tile size");

  const uint32_t m = SHAPE_M > 0 ? static_cast<uint32_t>(SHAPE_M) : shape_m;
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  // NOTES: swizzled TMA tiles need 1024-byte alignment; the dynamic base is only promised
  // 16, so align by hand (the host allocates 1024 B extra). Both CTAs of a cluster get the same
  // offsets, which multicast requires.
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t smem_d = base;
  const uint32_t smem_a = smem_d + Smem::kD;
  const uint32_t smem_b = smem_a + kNumStages * Smem::kA;
  const uint32_t smem_sa = smem_b + kNumStages * Smem::kB;
  const uint32_t bars = smem_sa + kNumStages * Smem::kSA;
  auto full_bar = [&](int s) { return bars + 8u * s; };
  auto empty_bar = [&](int s) { return bars + 8u * (kNumStages + s); };

  const uint32_t rank = kNumMulticast > 1 ? cluster_ctarank() : 0;
  if (threadIdx.x == kNumMathThreads) {
    tma_prefetch_descriptor(&tmap_a);
    tma_prefetch_descriptor(&tmap_b);
    tma_prefetch_descriptor(&tmap_sa);
    tma_prefetch_descriptor(&tmap_d);
#pragma unroll
    for (int s = 0; s < kNumStages; ++s) {
      mbarrier_init(full_bar(s), 1);
      // NOTES: every math warp of every CTA in the cluster releases a stage, because the
      // peer's multicast writes into this CTA's stage too.
      mbarrier_init(empty_bar(s), kNumMulticast * kNumMathWarpGroups * 4);
    }
    fence_mbarrier_init();
  }
  if constexpr (kNumMulticast > 1)
    cluster_sync();
  else
    __syncthreads();

  if (threadIdx.x >= kNumMathThreads) {
    // Producer warp group. NOTES: 40 registers are plenty for address arithmetic; the rest
    // goes to the math warp groups (40*128 + 232*256 <= 64K).
    setmaxnreg_dec<40>();
    if (threadIdx.x == kNumMathThreads) {
      Scheduler scheduler(m, grouped_layout, rank);
      int m_block, n_block, group;
      uint32_t it = 0;
      while (scheduler.next(m_block, n_block, group)) {
        // NOTES: masked groups are stacked rows of A and of the A scales ([G * M_max, K]); a
        // tile running past its group's M_max reads the next group's rows, which only feed
        // output rows the 3-D store of D drops.
        const int a_row0 = (kGemmType == kGemmGroupedMasked ? group * static_cast<int>(m) : 0) +
                           m_block * BLOCK_M;
        const int b_row0 = (kGemmType == kGemmNormal ? 0 : group * SHAPE_N) + n_block * BLOCK_N;
#pragma unroll 1
        for (int kb = 0; kb < kNumKBlocks; ++kb, ++it) {
          const int s = static_cast<int>(it % kNumStages);
          const uint32_t phase = (it / kNumStages) & 1u;
          mbarrier_wait(empty_bar(s), phase ^ 1u);
          mbarrier_arrive_expect_tx(full_bar(s), Smem::kA + Smem::kB + Smem::kSA);
          const int k = kb * BLOCK_K;
          const uint32_t sa_dst = smem_sa + s * Smem::kSA;
          const uint32_t a_dst = smem_a + s * Smem::kA, b_dst = smem_b + s * Smem::kB;
          if constexpr (kNumMulticast > 1) {
            // Each CTA fetches its half of the shared operand for both CTAs.
            constexpr int kRowsA = kMulticastOnA ? BLOCK_M / 2 : BLOCK_M;
            constexpr int kRowsB = kMulticastOnA ? BLOCK_N : BLOCK_N / 2;
            if constexpr (kMulticastOnA) {
              tma_load_2d_multicast(a_dst + rank * kRowsA * BLOCK_K, &tmap_a, full_bar(s), 3, k,
                                    a_row0 + rank * kRowsA);
              tma_load_2d(b_dst, &tmap_b, full_bar(s), k, b_row0);
            } else {
              tma_load_2d(a_dst, &tmap_a, full_bar(s), k, a_row0);
              tma_load_2d_multicast(b_dst + rank * kRowsB * BLOCK_K, &tmap_b, full_bar(s), 3, k,
                                    b_row0 + rank * kRowsB);
            }
          } else {
            tma_load_2d(a_dst, &tmap_a, full_bar(s), k, a_row0);
            tma_load_2d(b_dst, &tmap_b, full_bar(s), k, b_row0);
          }
          tma_load_2d(sa_dst, &tmap_sa, full_bar(s), a_row0, kb);
        }
      }
    }
  } else {
    // Math warp groups: warp group wg owns rows [64*wg, 64*wg + 64) of the tile.
    setmaxnreg_inc<232>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t t = threadIdx.x % 128;
    const uint32_t lane = t % 32;
    const uint32_t row = wgmma_accum_row(static_cast<int>(t));
    Scheduler scheduler(m, grouped_layout, rank);
    int m_block, n_block, group;
    uint32_t it = 0;
    float acc[kNumAccum];
    float out[kNumAccum];
    while (scheduler.next(m_block, n_block, group)) {
      const int n0 = n_block * BLOCK_N;
      const float* sb_tile =
          scale_b + static_cast<long long>(kGemmType == kGemmNormal ? 0 : group) *
                        kNumNScaleBlocks * kNumKBlocks;
      const int sb_block0 = n0 / 128;
#pragma unroll
      for (int i = 0; i < kNumAccum; ++i) out[i] = 0.0f;

#pragma unroll 1
      for (int kb = 0; kb < kNumKBlocks; ++kb, ++it) {
        // The B scales of this K block, fetched before the wait so their latency hides.
        float sb[kNumSB];
#pragma unroll
        for (int i = 0; i < kNumSB; ++i)
          sb[i] = ld_global_nc_f32(sb_tile + const_min(sb_block0 + i, kNumNScaleBlocks - 1) *
                                                 kNumKBlocks + kb);
        const int s = static_cast<int>(it % kNumStages);
        const uint32_t phase = (it / kNumStages) & 1u;
        mbarrier_wait(full_bar(s), phase);
        const uint32_t sa_row = smem_sa + s * Smem::kSA + (wg * 64 + row) * 4;
        const float sa0 = ld_shared_f32(sa_row);
        const float sa1 = ld_shared_f32(sa_row + 8 * 4);

        const uint64_t desc_a = make_kmajor_desc<128>(smem_a + s * Smem::kA + wg * 64 * BLOCK_K);
        const uint64_t desc_b = make_kmajor_desc<128>(smem_b + s * Smem::kB);
        wgmma_reg_fence(acc);
        wgmma_fence();
#pragma unroll
        for (int k = 0; k < BLOCK_K / 32; ++k)
          WgmmaE4M3<BLOCK_N>::mma(advance_wgmma_desc(desc_a, k * 32),
                                  advance_wgmma_desc(desc_b, k * 32), acc, k > 0);
        wgmma_commit();
        wgmma_reg_fence(acc);
        wgmma_wait<0>();
        wgmma_reg_fence(acc);

        // The stage's operands are consumed: release it to the producer(s).
        if constexpr (kNumMulticast > 1) {
          if (lane < kNumMulticast) mbarrier_arrive_cluster(empty_bar(s), lane);
        } else {
          if (lane == 0) mbarrier_arrive(empty_bar(s));
        }

        // NOTES: two-level accumulation: the tensor cores' FP8 sums cover one 128-wide K
        // block only; they are scaled and added into FP32 registers here.
#pragma unroll
        for (int j = 0; j < BLOCK_N / 8; ++j) {
          float b = sb[0];
          if constexpr (BLOCK_N % 128 == 0) {
            b = sb[(8 * j) / 128];
          } else if constexpr (kNumSB > 1) {
#pragma unroll
            for (int i = 1; i < kNumSB; ++i)
              if (n0 + 8 * j >= (sb_block0 + i) * 128) b = sb[i];
          }
          const float s0 = sa0 * b, s1 = sa1 * b;
          out[4 * j + 0] += s0 * acc[4 * j + 0];
          out[4 * j + 1] += s0 * acc[4 * j + 1];
          out[4 * j + 2] += s1 * acc[4 * j + 2];
          out[4 * j + 3] += s1 * acc[4 * j + 3];
        }
      }

      const int m_row = m_block * BLOCK_M + static_cast<int>(wg) * 64;
      Epilogue::run(out, t, smem_d + wg * Epilogue::kTileBytes, 1 + wg, t == 0,
                    [&](uint32_t src, int col) {
                      if constexpr (kGemmType == kGemmGroupedMasked)
                        tma_store_3d(&tmap_d, src, n0 + col, m_row, group);
                      else
                        tma_store_2d(&tmap_d, src, n0 + col, m_row);
                    });
    }
    if (t == 0) tma_store_wait<0>();
  }
  // NOTES: a CTA must not exit while its peer may still multicast into it or arrive on its
  // barriers.
  if constexpr (kNumMulticast > 1) {
    __syncwarp();
    cluster_sync();
  }
}

}  // namespace shapejit::kernels
