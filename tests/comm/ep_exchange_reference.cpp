// The independent model of the exchange (see ep_exchange_reference.hpp).
#include "ep_exchange_reference.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace shapejit::test {

namespace {
// Replica rule of the exchange's definition: entry (token t of rank s) of expert e uses
// replica (t + s) mod logcnt[e].
int chosen_slot(const comm::EpPlacement& p, int e, int s, int t) {
  return p.log2phy[e][(t + s) % p.logcnt[e]];
}
}  // namespace

std::vector<std::vector<std::vector<EpEntry>>> reference_expert_entries(const EpWorld& w) {
  const auto& p = w.placement;
  std::vector<std::vector<std::vector<EpEntry>>> out(
      p.num_ranks, std::vector<std::vector<EpEntry>>(p.experts_per_rank));
  for (int s = 0; s < p.num_ranks; ++s)
    for (int t = 0; t < w.tokens[s]; ++t)
      for (int j = 0; j < w.top_k; ++j) {
        const int e = w.topk_idx[s][t * w.top_k + j];
        if (e < 0) continue;
        const int slot = chosen_slot(p, e, s, t);
        out[slot / p.experts_per_rank][slot % p.experts_per_rank].push_back({s, t, j});
      }
  return out;
}

float reference_expert_output(int expert, int src, int token, int c) {
  // A smooth but entry-specific value, different per expert, token, source and column.
  return std::sin(0.37f * expert + 1.3f * c) + 0.01f * float((token * 31 + src * 7 + c) % 97);
}

std::vector<std::vector<float>> reference_combine(const EpWorld& w, int cols, float (*round)(float)) {
  const auto& p = w.placement;
  std::vector<std::vector<float>> out(p.num_ranks);
  for (int s = 0; s < p.num_ranks; ++s) {
    out[s].assign(std::size_t(w.tokens[s]) * cols, 0.0f);
    for (int t = 0; t < w.tokens[s]; ++t)
      for (int c = 0; c < cols; ++c) {
        float total = 0.0f;
        for (int d = 0; d < p.num_ranks; ++d) {
          float part = 0.0f;
          bool any = false;
          for (int j = 0; j < w.top_k; ++j) {
            const int e = w.topk_idx[s][t * w.top_k + j];
            if (e < 0 || chosen_slot(p, e, s, t) / p.experts_per_rank != d) continue;
            part += w.topk_weights[s][t * w.top_k + j] * reference_expert_output(e, s, t, c);
            any = true;
          }
          if (any) total += round ? round(part) : part;
        }
        out[s][std::size_t(t) * cols + c] = total;
      }
  }
  return out;
}

float EpFp8Tokens::scale(int s, int t, int g) const {
  return m_major ? scales[s][std::size_t(g) * stride[s] + t] : scales[s][std::size_t(t) * (hidden / 128) + g];
}

EpFp8Tokens random_fp8_tokens(std::mt19937& rng, const EpWorld& w, int hidden, bool m_major, int stride_pad) {
  const int R = w.placement.num_ranks, G = hidden / 128;
  EpFp8Tokens x;
  x.hidden = hidden;
  x.m_major = m_major;
  x.data.resize(R);
  x.scales.resize(R);
  x.stride.assign(R, 0);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> sc(0.001f, 4.0f);
  for (int s = 0; s < R; ++s) {
    const int T = w.tokens[s];
    x.data[s].resize(std::size_t(T) * hidden);
    for (auto& b : x.data[s]) {
      int v = byte(rng);
      if ((v & 0x7f) == 0x7f) v ^= 1;   // E4M3 has NaN only at S.1111.111
      b = static_cast<std::uint8_t>(v);
    }
    x.stride[s] = m_major ? (T + 3) / 4 * 4 + stride_pad : 0;
    // Poisoned padding (NaN) in the M-major columns: a copy must never read it.
    x.scales[s].assign(m_major ? std::size_t(G) * x.stride[s] : std::size_t(T) * G, std::nanf(""));
    for (int t = 0; t < T; ++t)
      for (int g = 0; g < G; ++g)
        (m_major ? x.scales[s][std::size_t(g) * x.stride[s] + t] : x.scales[s][std::size_t(t) * G + g]) = sc(rng);
  }
  return x;
}

EpGemmFp8Input reference_gemm_input_fp8(const EpWorld& w, const EpFp8Tokens& x, int rank, int align_m,
                                        int capacity, long long scale_stride) {
  const auto entries = reference_expert_entries(w)[rank];
  const int L = w.placement.experts_per_rank, H = x.hidden, G = H / 128;
  std::vector<int> begin(L + 1, 0);
  for (int le = 0; le < L; ++le) {
    const int n = static_cast<int>(entries[le].size());
    begin[le + 1] = begin[le] + (capacity > 0 ? capacity : (n + align_m - 1) / align_m * align_m);
  }
  EpGemmFp8Input out;
  out.rows = begin[L];
  out.data.assign(std::size_t(out.rows) * H, 0);
  out.scales.assign(std::size_t(G) * scale_stride, 0.0f);
  for (int r = 0; r < out.rows; ++r)
    for (int g = 0; g < G; ++g) out.scales[std::size_t(g) * scale_stride + r] = 1.0f;
  for (int le = 0; le < L; ++le) {
    const int kept = capacity > 0 ? std::min<int>(capacity, entries[le].size()) : static_cast<int>(entries[le].size());
    for (int i = 0; i < kept; ++i) {
      const EpEntry& e = entries[le][i];
      const int r = begin[le] + i;
      std::copy_n(x.data[e.src].begin() + std::size_t(e.token) * H, H, out.data.begin() + std::size_t(r) * H);
      for (int g = 0; g < G; ++g) out.scales[std::size_t(g) * scale_stride + r] = x.scale(e.src, e.token, g);
    }
  }
  return out;
}

EpWorld random_world(std::mt19937& rng, int num_ranks, int num_experts, int top_k, int max_tokens,
                     double skew, int extra_slots_per_rank, double drop_fraction) {
  EpWorld w;
  w.top_k = top_k;
  // Placement: experts in order over the base slots, then extra replicas of the heaviest (lowest
  // id under skew) experts, placed on ranks round-robin starting from a random rank.
  auto& p = w.placement;
  p.num_ranks = num_ranks;
  p.num_experts = num_experts;
  const int base = num_experts / num_ranks;
  p.experts_per_rank = base + extra_slots_per_rank;
  p.log2phy.assign(num_experts, {});
  p.logcnt.assign(num_experts, 0);
  for (int e = 0; e < num_experts; ++e) {
    const int r = e / base;
    p.log2phy[e].push_back(r * p.experts_per_rank + e % base);
  }
  int hot = 0;
  std::uniform_int_distribution<int> any_rank(0, num_ranks - 1);
  const int shift = any_rank(rng);
  for (int r = 0; r < num_ranks; ++r)
    for (int x = 0; x < extra_slots_per_rank; ++x) {
      const int rank = (r + shift) % num_ranks;
      p.log2phy[hot % num_experts].push_back(rank * p.experts_per_rank + base + x);
      ++hot;
    }
  for (int e = 0; e < num_experts; ++e) p.logcnt[e] = static_cast<int>(p.log2phy[e].size());

  std::uniform_int_distribution<int> tok(0, max_tokens);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> cdf(num_experts);
  for (int e = 0; e < num_experts; ++e) cdf[e] = (e ? cdf[e - 1] : 0.0) + 1.0 / std::pow(e + 1.0, skew);
  for (auto& c : cdf) c /= cdf.back();
  w.tokens.resize(num_ranks);
  w.topk_idx.resize(num_ranks);
  w.topk_weights.resize(num_ranks);
  for (int s = 0; s < num_ranks; ++s) {
    const int T = w.tokens[s] = tok(rng);
    for (int t = 0; t < T; ++t) {
      std::vector<int> chosen;
      while (static_cast<int>(chosen.size()) < top_k) {
        const int e = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
        if (std::find(chosen.begin(), chosen.end(), e) == chosen.end()) chosen.push_back(e);
      }
      for (int j = 0; j < top_k; ++j) {
        const bool drop = u(rng) < drop_fraction;
        w.topk_idx[s].push_back(drop ? -1 : chosen[j]);
        w.topk_weights[s].push_back(drop ? 0.0f : static_cast<float>(0.05 + u(rng)));
      }
    }
  }
  return w;
}

}  // namespace shapejit::test
