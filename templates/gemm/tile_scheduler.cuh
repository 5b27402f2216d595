#pragma once
// Persistent tile scheduler of the GEMM kernels. Every CTA walks the same sequence of work
// units (one unit = one tile per CTA of a cluster), so the producer and the math warp groups of
// a CTA, and the two CTAs of a multicast pair, agree on every tile without communicating.
//
//   kGemmType 0 (normal):             D[M, N] = A[M, K] · B[N, K]ᵀ
//   kGemmType 1 (grouped contiguous): A[M_sum, K], B[G, N, K], grouped_layout[row] = group of
//                                     the row or -1 (padding); groups start on BLOCK_M rows
//   kGemmType 2 (grouped masked):     A[G, M_max, K], B[G, N, K], grouped_layout[g] = rows of
//                                     group g in use (masked_m, on device); m = M_max
#include "common/smem.cuh"
#include "common/types.cuh"

namespace shapejit::kernels {

enum GemmType : int { kGemmNormal = 0, kGemmGroupedContiguous = 1, kGemmGroupedMasked = 2 };

template <int kGemmType, int SHAPE_N, int BLOCK_M, int BLOCK_N, int kNumGroups, int kClusterM,
          int kClusterN, int kNumClusters>
struct TileScheduler {
  static_assert(kClusterM * kClusterN <= 2, "clusters of at most 2 CTAs");
  static_assert(kGemmType != kGemmGroupedContiguous || kClusterM == 1,
                "contiguous groups are BLOCK_M aligned: a pair along M could straddle two groups");
  static constexpr int kNumNBlocks = ceil_div(SHAPE_N, BLOCK_N);
  static constexpr int kNumNUnits = ceil_div(kNumNBlocks, kClusterN);
  // NOTES: units are rasterised in bands of kBandN N-units, M fastest inside a band, so the
  // CTAs resident at one time share a few B column blocks and a run of A row blocks in L2.
  static constexpr int kBandN = 8;

  int num_m_units = 0;
  int unit = 0;              // next unit index of this cluster
  uint32_t rank_m = 0, rank_n = 0;
  uint32_t m = 0;
  const int* grouped_layout = nullptr;
  // Masked: the group the walk is in and the first unit index of that group.
  int group = 0, group_first_unit = 0, group_units = 0, group_m_units = 0;

  __device__ __forceinline__ TileScheduler(uint32_t m_, const int* layout, uint32_t cluster_rank)
      : m(m_), grouped_layout(layout) {
    unit = static_cast<int>(blockIdx.x) / (kClusterM * kClusterN);
    rank_m = kClusterM > 1 ? cluster_rank : 0;
    rank_n = kClusterN > 1 ? cluster_rank : 0;
    num_m_units = ceil_div(ceil_div(static_cast<int>(m), BLOCK_M), kClusterM);
    if constexpr (kGemmType == kGemmGroupedMasked) set_group(0);
  }

  __device__ __forceinline__ void set_group(int g) {
    group = g;
    int rows = g < kNumGroups ? ld_global_nc_s32(grouped_layout + g) : 0;
    rows = const_max(0, const_min(rows, static_cast<int>(m)));   // masked_m beyond M_max: M_max
    group_m_units = ceil_div(ceil_div(rows, BLOCK_M), kClusterM);
    group_units = group_m_units * kNumNUnits;
  }

  // The next tile of this CTA; false when the CTA has no more work. A tile may lie partly or
  // wholly outside [M, N] (odd block counts with a 2-CTA cluster); TMA fills such loads with
  // zeros and drops such stores.
  __device__ __forceinline__ bool next(int& m_block, int& n_block, int& tile_group) {
    while (true) {
      const int u = unit;
      unit += kNumClusters;
      int mu, nu;
      if constexpr (kGemmType == kGemmGroupedMasked) {
        while (u >= group_first_unit + group_units) {
          if (group >= kNumGroups) return false;
          group_first_unit += group_units;
          set_group(group + 1);
        }
        if (group >= kNumGroups) return false;
        const int local = u - group_first_unit;
        // NOTES: M fastest: the few M units of a decode group share each B tile.
        mu = local % group_m_units;
        nu = local / group_m_units;
        tile_group = group;
      } else {
        if (u >= num_m_units * kNumNUnits) return false;
        const int band = u / (kBandN * num_m_units);
        const int first_nu = band * kBandN;
        const int band_width = const_min(kBandN, kNumNUnits - first_nu);
        const int in_band = u - band * kBandN * num_m_units;
        mu = in_band / band_width;
        nu = first_nu + in_band % band_width;
        tile_group = 0;
      }
      m_block = mu * kClusterM + static_cast<int>(rank_m);
      n_block = nu * kClusterN + static_cast<int>(rank_n);
      if constexpr (kGemmType == kGemmGroupedContiguous) {
        // Rows of one BLOCK_M block belong to one group; -1 marks padding blocks (skipped).
        tile_group = ld_global_nc_s32(grouped_layout + m_block * BLOCK_M);
        if (tile_group < 0) continue;
      }
      return true;
    }
  }
};

}  // namespace shapejit::kernels
