#pragma once
// Checks a routing layout against its definition (docs/moe.md), independent of how it was
// computed: used on the host reference and on the GPU's output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "shapejit/runtime/moe.hpp"

namespace shapejit::test {

inline void expect_layout_invariants(const runtime::MoeConfig& c, int T, const std::vector<int>& topk,
                                     const runtime::MoeRoutingHost& r) {
  using runtime::MoeLayout;
  const int E = c.num_experts, k = c.top_k;
  const bool masked = c.layout == MoeLayout::masked;
  const std::int64_t num_rows = runtime::moe_num_rows(c, T);
  ASSERT_EQ(r.tokens_per_expert.size(), static_cast<std::size_t>(E));
  ASSERT_EQ(r.row_begin.size(), static_cast<std::size_t>(E + 1));
  ASSERT_EQ(r.row_to_token.size(), static_cast<std::size_t>(num_rows));
  ASSERT_EQ(r.token_slot.size(), static_cast<std::size_t>(T) * k);

  // Entries per expert, in entry order.
  std::vector<std::vector<int>> entries(E);
  for (int i = 0; i < T * k; ++i) {
    const long long e = static_cast<long long>(topk[i]) - c.expert_begin;
    if (e >= 0 && e < E) entries[e].push_back(i);
  }
  int row = 0;
  for (int e = 0; e < E; ++e) {
    const int n = static_cast<int>(entries[e].size());
    const int kept = masked ? std::min(n, c.max_tokens_per_expert) : n;
    ASSERT_EQ(r.tokens_per_expert[e], kept) << "expert " << e;
    ASSERT_EQ(r.row_begin[e], row) << "expert " << e;
    if (!masked) {
      EXPECT_EQ(r.row_begin[e] % c.align_m, 0) << "expert " << e;
    }
    for (int p = 0; p < n; ++p) {
      const int i = entries[e][p];
      if (p < kept) {
        ASSERT_EQ(r.token_slot[i], row + p) << "entry " << i << " of expert " << e;
        ASSERT_EQ(r.row_to_token[row + p], i / k) << "row " << row + p;
        if (!r.m_indices.empty()) {
          ASSERT_EQ(r.m_indices[row + p], e) << "row " << row + p;
        }
      } else {
        ASSERT_EQ(r.token_slot[i], -1) << "entry " << i << " beyond capacity";
      }
    }
    const int span = masked ? c.max_tokens_per_expert : (n + c.align_m - 1) / c.align_m * c.align_m;
    for (int p = kept; p < span; ++p) {
      ASSERT_EQ(r.row_to_token[row + p], -1) << "padding row " << row + p;
      if (!r.m_indices.empty()) {
        ASSERT_EQ(r.m_indices[row + p], -1) << "padding row " << row + p;
      }
    }
    row += span;
  }
  ASSERT_EQ(r.row_begin[E], row);
  ASSERT_LE(row, num_rows);
  for (std::int64_t p = row; p < num_rows; ++p) {
    ASSERT_EQ(r.row_to_token[p], -1) << "unused row " << p;
    if (!r.m_indices.empty()) {
      ASSERT_EQ(r.m_indices[p], -1) << "unused row " << p;
    }
  }
  for (int i = 0; i < T * k; ++i) {
    const long long e = static_cast<long long>(topk[i]) - c.expert_begin;
    if (e < 0 || e >= E) {
      ASSERT_EQ(r.token_slot[i], -1) << "entry " << i << " not routed here";
    }
  }
}

// Random routing: each token picks top_k distinct experts out of num_global, a fraction
// drop_rate of the choices replaced by -1; zipf_s > 0 skews the picks toward low ids.
inline std::vector<int> random_topk(int T, int top_k, int num_global, double drop_rate,
                                    double zipf_s, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<double> w(num_global);
  for (int e = 0; e < num_global; ++e) w[e] = zipf_s > 0 ? 1.0 / std::pow(e + 1.0, zipf_s) : 1.0;
  std::discrete_distribution<int> pick(w.begin(), w.end());
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<int> out(static_cast<std::size_t>(T) * top_k);
  for (int t = 0; t < T; ++t) {
    std::vector<int> chosen;
    while (static_cast<int>(chosen.size()) < std::min(top_k, num_global)) {
      const int e = pick(rng);
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
    }
    for (int j = 0; j < top_k; ++j) {
      const int e = j < static_cast<int>(chosen.size()) ? chosen[j] : -1;
      out[static_cast<std::size_t>(t) * top_k + j] = u(rng) < drop_rate ? -1 : e;
    }
  }
  return out;
}

}  // namespace shapejit::test
