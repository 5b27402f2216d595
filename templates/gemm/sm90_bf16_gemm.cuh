#pragma once
// BF16 GEMM, NT layout, for Hopper (sm_90a): D[M, N] = A[M, K] · B[N, K]ᵀ with A, B row-major
// BF16, FP32 accumulation, D BF16 or FP32 (kOutFP32). Same structure as the FP8 kernel
// (gemm/sm90_fp8_gemm_1d2d.cuh): TMA producer warp group, BLOCK_M/64 wgmma warp groups,
// kNumStages mbarrier ring, persistent grid, optional 2-CTA multicast, TMA-store epilogue.
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
          int kNumMulticast, bool kMulticastOnA, int kSwizzleDBytes, int NUM_SMS, bool kOutFP32>
__global__ void __launch_bounds__(gemm_threads(BLOCK_M), 1)
    sm90_bf16_gemm(const __grid_constant__ TmaDescriptor tmap_a,
                   const __grid_constant__ TmaDescriptor tmap_b,
                   const __grid_constant__ TmaDescriptor tmap_d, uint32_t shape_m) {
  constexpr int BLOCK_K = 64;
  constexpr int kNumMathWarpGroups = BLOCK_M / 64;
  constexpr int kNumMathThreads = kNumMathWarpGroups * 128;
  constexpr int kNumKBlocks = SHAPE_K / BLOCK_K;
  constexpr int kClusterM = (kNumMulticast > 1 && !kMulticastOnA) ? 2 : 1;
  constexpr int kClusterN = (kNumMulticast > 1 && kMulticastOnA) ? 2 : 1;
  constexpr int kNumAccum = BLOCK_N / 2;
  using Smem = Bf16GemmSmem<BLOCK_M, BLOCK_N, kNumStages, kOutFP32>;
  using Epilogue = WarpGroupEpilogue<BLOCK_N, kOutFP32, kSwizzleDBytes>;
  using Scheduler = TileScheduler<kGemmNormal, SHAPE_N, BLOCK_M, BLOCK_N, 1, kClusterM, kClusterN,
                                  NUM_SMS / kNumMulticast>;
  static_assert(SHAPE_K % BLOCK_K == 0 && SHAPE_K > 0, "K must be a multiple of 64");
  static_assert(SHAPE_N > 0 && SHAPE_N % 8 == 0, "N must be a multiple of 8");
  static_assert(BLOCK_M == 64 || BLOCK_M == 128, "BLOCK_M is 64 or 128");
  static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 16 && BLOCK_N <= 256, "BLOCK_N 16..256, /16");
  static_assert(kNumMulticast == 1 || kNumMulticast == 2, "multicast over 1 or 2 CTAs");
  static_assert(NUM_SMS % kNumMulticast == 0, "the grid is a whole number of clusters");
  static_assert(Smem::kTotal + kGemmSmemAlignSlack <= kGemmMaxSmemBytes, "stages exceed 227 KiB");

  const uint32_t m = SHAPE_M > 0 ? static_cast<uint32_t>(SHAPE_M) : shape_m;
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  // NOTES: see the FP8 kernel: hand alignment to 1024 B, same offsets in both cluster CTAs.
  const uint32_t base = (smem_addr(smem_raw) + 1023u) & ~1023u;
  const uint32_t smem_d = base;
  const uint32_t smem_a = smem_d + Smem::kD;
  const uint32_t smem_b = smem_a + kNumStages * Smem::kA;
  const uint32_t bars = smem_b + kNumStages * Smem::kB;
  auto full_bar = [&](int s) { return bars + 8u * s; };
  auto empty_bar = [&](int s) { return bars + 8u * (kNumStages + s); };

  const uint32_t rank = kNumMulticast > 1 ? cluster_ctarank() : 0;
  if (threadIdx.x == kNumMathThreads) {
    tma_prefetch_descriptor(&tmap_a);
    tma_prefetch_descriptor(&tmap_b);
    tma_prefetch_descriptor(&tmap_d);
#pragma unroll
    for (int s = 0; s < kNumStages; ++s) {
      mbarrier_init(full_bar(s), 1);
      mbarrier_init(empty_bar(s), kNumMulticast * kNumMathWarpGroups * 4);
    }
    fence_mbarrier_init();
  }
  if constexpr (kNumMulticast > 1)
    cluster_sync();
  else
    __syncthreads();

  if (threadIdx.x >= kNumMathThreads) {
    setmaxnreg_dec<40>();
    if (threadIdx.x == kNumMathThreads) {
      Scheduler scheduler(m, nullptr, rank);
      int m_block, n_block, group;
      uint32_t it = 0;
      while (scheduler.next(m_block, n_block, group)) {
        const int m0 = m_block * BLOCK_M, n0 = n_block * BLOCK_N;
#pragma unroll 1
        for (int kb = 0; kb < kNumKBlocks; ++kb, ++it) {
          const int s = static_cast<int>(it % kNumStages);
          const uint32_t phase = (it / kNumStages) & 1u;
          mbarrier_wait(empty_bar(s), phase ^ 1u);
          mbarrier_arrive_expect_tx(full_bar(s), Smem::kA + Smem::kB);
          const int k = kb * BLOCK_K;
          const uint32_t a_dst = smem_a + s * Smem::kA, b_dst = smem_b + s * Smem::kB;
          if constexpr (kNumMulticast > 1 && kMulticastOnA) {
            constexpr int kRows = BLOCK_M / 2;
            tma_load_2d_multicast(a_dst + rank * kRows * 128, &tmap_a, full_bar(s), 3, k,
                                  m0 + rank * kRows);
            tma_load_2d(b_dst, &tmap_b, full_bar(s), k, n0);
          } else if constexpr (kNumMulticast > 1) {
            constexpr int kRows = BLOCK_N / 2;
            tma_load_2d(a_dst, &tmap_a, full_bar(s), k, m0);
            tma_load_2d_multicast(b_dst + rank * kRows * 128, &tmap_b, full_bar(s), 3, k,
                                  n0 + rank * kRows);
          } else {
            tma_load_2d(a_dst, &tmap_a, full_bar(s), k, m0);
            tma_load_2d(b_dst, &tmap_b, full_bar(s), k, n0);
          }
        }
      }
    }
  } else {
    setmaxnreg_inc<232>();
    const uint32_t wg = threadIdx.x / 128;
    const uint32_t t = threadIdx.x % 128;
    const uint32_t lane = t % 32;
    Scheduler scheduler(m, nullptr, rank);
    int m_block, n_block, group;
    uint32_t it = 0;
    float acc[kNumAccum];
    auto release = [&](int s) {
      if constexpr (kNumMulticast > 1) {
        if (lane < kNumMulticast) mbarrier_arrive_cluster(empty_bar(s), lane);
      } else {
        if (lane == 0) mbarrier_arrive(empty_bar(s));
      }
    };
    while (scheduler.next(m_block, n_block, group)) {
#pragma unroll 1
      for (int kb = 0; kb < kNumKBlocks; ++kb, ++it) {
        const int s = static_cast<int>(it % kNumStages);
        const uint32_t phase = (it / kNumStages) & 1u;
        mbarrier_wait(full_bar(s), phase);
        const uint64_t desc_a = make_kmajor_desc<128>(smem_a + s * Smem::kA + wg * 64 * 128);
        const uint64_t desc_b = make_kmajor_desc<128>(smem_b + s * Smem::kB);
        wgmma_reg_fence(acc);
        wgmma_fence();
#pragma unroll
        for (int k = 0; k < BLOCK_K / 16; ++k)
          WgmmaBF16<BLOCK_N>::mma(advance_wgmma_desc(desc_a, k * 32),
                                  advance_wgmma_desc(desc_b, k * 32), acc, kb > 0 || k > 0);
        wgmma_commit();
        wgmma_reg_fence(acc);
        // NOTES: keep this block's wgmma in flight while the previous block's stage is
        // released; with FP32 accumulation in the tensor cores there is no promotion step.
        wgmma_wait<1>();
        if (kb > 0) release(static_cast<int>((it - 1) % kNumStages));
      }
      wgmma_wait<0>();
      wgmma_reg_fence(acc);
      release(static_cast<int>((it - 1) % kNumStages));

      const int n0 = n_block * BLOCK_N;
      const int m_row = m_block * BLOCK_M + static_cast<int>(wg) * 64;
      Epilogue::run(acc, t, smem_d + wg * Epilogue::kTileBytes, 1 + wg, t == 0,
                    [&](uint32_t src, int col) { tma_store_2d(&tmap_d, src, n0 + col, m_row); });
    }
    if (t == 0) tma_store_wait<0>();
  }
  if constexpr (kNumMulticast > 1) {
    __syncwarp();
    cluster_sync();
  }
}

}  // namespace shapejit::kernels
