// The exchange's plans on the host (see ep_layout.hpp for the orderings).
#include "shapejit/comm/ep_layout.hpp"

#include <algorithm>
#include <string>

#include "shapejit/error.hpp"

namespace shapejit::comm {
namespace {

[[noreturn]] void bad(const std::string& what) { fail(Errc::invalid_argument, "EP exchange: " + what); }

int round_up(int x, int a) { return (x + a - 1) / a * a; }

}  // namespace

EpSendPlan ep_send_plan(const EpPlacement& placement, int rank, const EpRouting& routing) {
  const int R = placement.num_ranks, L = placement.experts_per_rank, K = routing.top_k;
  const int T = routing.num_tokens;
  if (rank < 0 || rank >= R) bad("rank " + std::to_string(rank) + " outside [0, " + std::to_string(R) + ")");
  if (T < 0 || K < 1) bad("num_tokens " + std::to_string(T) + ", top_k " + std::to_string(K));
  const std::size_t entries = std::size_t(T) * std::size_t(K);
  if (routing.topk_idx.size() != entries || routing.topk_weights.size() != entries)
    bad("topk_idx/topk_weights have " + std::to_string(routing.topk_idx.size()) + "/" +
        std::to_string(routing.topk_weights.size()) + " entries, expected T·k = " + std::to_string(entries));

  EpSendPlan p;
  p.rank = rank; p.num_ranks = R; p.experts_per_rank = L; p.top_k = K; p.num_tokens = T;
  p.slot.assign(entries, -1);
  p.send_count.assign(R, 0);
  p.expert_count.assign(std::size_t(R) * L, 0);
  std::vector<char> to_rank(std::size_t(T) * R, 0);
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < K; ++j) {
      const int e = routing.topk_idx[std::size_t(t) * K + j];
      if (e == -1) continue;
      if (e < -1 || e >= placement.num_experts)
        bad("rank " + std::to_string(rank) + " token " + std::to_string(t) + " entry " +
            std::to_string(j) + " names expert " + std::to_string(e) + ", outside [-1, " +
            std::to_string(placement.num_experts) + ")");
      const int s = placement.replica_slot(e, t, rank);
      p.slot[std::size_t(t) * K + j] = s;
      const int d = s / L;
      ++p.expert_count[std::size_t(d) * L + s % L];
      if (!to_rank[std::size_t(t) * R + d]) { to_rank[std::size_t(t) * R + d] = 1; ++p.send_count[d]; }
    }
  p.send_offset.assign(R + 1, 0);
  for (int d = 0; d < R; ++d) p.send_offset[d + 1] = p.send_offset[d] + p.send_count[d];
  const int S = p.total_send();
  p.send_token.assign(S, -1);
  p.send_expert.assign(std::size_t(S) * K, -1);
  p.send_weight.assign(std::size_t(S) * K, 0.0f);
  p.token_rows.assign(entries, -1);
  std::vector<int> cursor(p.send_offset.begin(), p.send_offset.end() - 1);
  std::vector<int> filled(T, 0);
  for (int d = 0; d < R; ++d)
    for (int t = 0; t < T; ++t) {
      if (!to_rank[std::size_t(t) * R + d]) continue;
      const int row = cursor[d]++;
      p.send_token[row] = t;
      p.token_rows[std::size_t(t) * K + filled[t]++] = row;
      for (int j = 0; j < K; ++j) {
        const int s = p.slot[std::size_t(t) * K + j];
        if (s >= 0 && s / L == d) {
          p.send_expert[std::size_t(row) * K + j] = s % L;
          p.send_weight[std::size_t(row) * K + j] = routing.topk_weights[std::size_t(t) * K + j];
        }
      }
    }
  return p;
}

EpCounts ep_counts_for(std::span<const EpSendPlan> plans, int rank) {
  EpCounts c;
  const int R = static_cast<int>(plans.size());
  const int L = R ? plans[0].experts_per_rank : 0;
  c.tokens_from.assign(R, 0);
  c.expert_count_from.assign(std::size_t(R) * L, 0);
  for (int s = 0; s < R; ++s) {
    c.tokens_from[s] = plans[s].send_count[rank];
    for (int le = 0; le < L; ++le)
      c.expert_count_from[std::size_t(s) * L + le] = plans[s].expert_count[std::size_t(rank) * L + le];
  }
  return c;
}

EpRecvPlan ep_recv_plan(int rank, int num_ranks, int experts_per_rank, int top_k, int align_m,
                        const EpCounts& counts, std::span<const int> recv_expert) {
  const int R = num_ranks, L = experts_per_rank, K = top_k;
  if (align_m < 1) bad("align_m " + std::to_string(align_m));
  if (static_cast<int>(counts.tokens_from.size()) != R ||
      counts.expert_count_from.size() != std::size_t(R) * L)
    bad("count exchange sizes do not match " + std::to_string(R) + " ranks × " +
        std::to_string(L) + " local experts");
  EpRecvPlan p;
  p.rank = rank; p.num_ranks = R; p.experts_per_rank = L; p.top_k = K; p.align_m = align_m;
  p.recv_count = counts.tokens_from;
  p.recv_offset.assign(R + 1, 0);
  for (int s = 0; s < R; ++s) p.recv_offset[s + 1] = p.recv_offset[s] + p.recv_count[s];
  const int N = p.total_recv();
  if (recv_expert.size() != std::size_t(N) * K)
    bad("routing info has " + std::to_string(recv_expert.size()) + " entries for " +
        std::to_string(N) + " received rows × k " + std::to_string(K));
  p.tokens_per_expert.assign(L, 0);
  for (int s = 0; s < R; ++s)
    for (int le = 0; le < L; ++le) p.tokens_per_expert[le] += counts.expert_count_from[std::size_t(s) * L + le];
  p.row_begin.assign(L + 1, 0);
  for (int le = 0; le < L; ++le) p.row_begin[le + 1] = p.row_begin[le] + round_up(p.tokens_per_expert[le], align_m);
  p.m_indices.assign(p.num_rows(), -1);
  p.row_to_recv.assign(p.num_rows(), -1);
  p.recv_slot.assign(std::size_t(N) * K, -1);
  std::vector<int> cursor(p.row_begin.begin(), p.row_begin.end() - 1);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < K; ++j) {
      const int le = recv_expert[std::size_t(i) * K + j];
      if (le == -1) continue;
      if (le < -1 || le >= L) bad("received row " + std::to_string(i) + " names local expert " + std::to_string(le));
      const int row = cursor[le]++;
      if (row >= p.row_begin[le] + p.tokens_per_expert[le])
        bad("rank " + std::to_string(rank) + " received more rows for local expert " +
            std::to_string(le) + " than the count exchange announced (" +
            std::to_string(p.tokens_per_expert[le]) + ")");
      p.m_indices[row] = le;
      p.row_to_recv[row] = i;
      p.recv_slot[std::size_t(i) * K + j] = row;
    }
  for (int le = 0; le < L; ++le)
    if (cursor[le] != p.row_begin[le] + p.tokens_per_expert[le])
      bad("rank " + std::to_string(rank) + " received fewer rows for local expert " +
          std::to_string(le) + " than the count exchange announced");
  return p;
}

std::vector<EpHostRecv> ep_host_dispatch(std::span<const EpSendPlan> plans,
                                         std::span<const std::vector<float>> x, int cols) {
  const int R = static_cast<int>(plans.size());
  std::vector<EpHostRecv> out(R);
  for (int d = 0; d < R; ++d) {
    const int K = plans[0].top_k;
    for (int s = 0; s < R; ++s) {
      const EpSendPlan& p = plans[s];
      for (int row = p.send_offset[d]; row < p.send_offset[d + 1]; ++row) {
        const int t = p.send_token[row];
        for (int j = 0; j < K; ++j) {
          out[d].expert.push_back(p.send_expert[std::size_t(row) * K + j]);
          out[d].weight.push_back(p.send_weight[std::size_t(row) * K + j]);
        }
        out[d].rows.insert(out[d].rows.end(), x[s].begin() + std::size_t(t) * cols,
                           x[s].begin() + std::size_t(t + 1) * cols);
      }
    }
  }
  return out;
}

std::vector<EpHostFp8Rows> ep_host_dispatch_fp8(std::span<const EpSendPlan> plans,
                                                std::span<const EpHostFp8Tokens> x, int hidden,
                                                int max_tokens) {
  const int R = static_cast<int>(plans.size()), G = hidden / 128;
  if (static_cast<int>(x.size()) != R) bad("ep_host_dispatch_fp8: one token set per rank is needed");
  for (int s = 0; s < R; ++s) {
    const long long T = plans[s].num_tokens;
    const long long need = x[s].scales_m_major ? (T ? (G - 1) * x[s].scale_stride + T : 0) : T * G;
    if (static_cast<long long>(x[s].data.size()) < T * hidden || static_cast<long long>(x[s].scales.size()) < need ||
        (x[s].scales_m_major && x[s].scale_stride < T))
      bad("ep_host_dispatch_fp8: rank " + std::to_string(s) + "'s tokens or scales are too small");
  }
  std::vector<EpHostFp8Rows> out(R);
  for (int d = 0; d < R; ++d)
    for (int s = 0; s < R; ++s) {
      const EpSendPlan& p = plans[s];
      if (max_tokens > 0 && p.send_count[d] > max_tokens)
        bad("ep_host_dispatch_fp8: rank " + std::to_string(s) + " sends more than max_tokens rows");
      // Low-latency: this source's block is max_tokens rows; unused rows stay zero.
      const std::size_t block_end = max_tokens > 0 ? std::size_t(s + 1) * max_tokens : 0;
      for (int row = p.send_offset[d]; row < p.send_offset[d + 1]; ++row) {
        const std::size_t t = p.send_token[row];
        out[d].data.insert(out[d].data.end(), x[s].data.begin() + t * hidden, x[s].data.begin() + (t + 1) * hidden);
        for (int g = 0; g < G; ++g)
          out[d].scales.push_back(x[s].scales_m_major ? x[s].scales[std::size_t(g) * x[s].scale_stride + t]
                                                      : x[s].scales[t * G + g]);
      }
      if (max_tokens > 0) {
        out[d].data.resize(block_end * hidden, 0);
        out[d].scales.resize(block_end * G, 0.0f);
      }
    }
  return out;
}

EpHostFp8Rows ep_host_gemm_input(std::span<const int> row_to_recv, const EpHostFp8Rows& recv, int hidden,
                                 long long scale_stride) {
  const int rows = static_cast<int>(row_to_recv.size()), G = hidden / 128;
  if (scale_stride < rows) bad("ep_host_gemm_input: scale_stride is below the GEMM rows");
  EpHostFp8Rows out;
  out.data.assign(std::size_t(rows) * hidden, 0);
  out.scales.assign(std::size_t(G) * scale_stride, 0.0f);
  for (int r = 0; r < rows; ++r) {
    const int i = row_to_recv[r];
    if (i >= 0 && std::size_t(i + 1) * hidden > recv.data.size()) bad("ep_host_gemm_input: row_to_recv past the receive rows");
    if (i >= 0)
      std::copy_n(recv.data.begin() + std::size_t(i) * hidden, hidden, out.data.begin() + std::size_t(r) * hidden);
    for (int g = 0; g < G; ++g)
      out.scales[std::size_t(g) * scale_stride + r] = i >= 0 ? recv.scales[std::size_t(i) * G + g] : 1.0f;
  }
  return out;
}

std::vector<float> ep_host_partials(const EpRecvPlan& plan, const EpHostRecv& recv,
                                    std::span<const float> y, int cols, float (*round)(float)) {
  const int N = plan.total_recv(), K = plan.top_k;
  std::vector<float> partial(std::size_t(N) * cols, 0.0f);
  for (int i = 0; i < N; ++i)
    for (int c = 0; c < cols; ++c) {
      float acc = 0.0f;
      for (int j = 0; j < K; ++j) {
        const int row = plan.recv_slot[std::size_t(i) * K + j];
        if (row >= 0) acc += recv.weight[std::size_t(i) * K + j] * y[std::size_t(row) * cols + c];
      }
      partial[std::size_t(i) * cols + c] = round ? round(acc) : acc;
    }
  return partial;
}

std::vector<float> ep_host_return(std::span<const EpSendPlan> plans,
                                  std::span<const EpRecvPlan> recv,
                                  std::span<const std::vector<float>> partials, int src, int cols) {
  const EpSendPlan& p = plans[src];
  std::vector<float> returned(std::size_t(p.total_send()) * cols);
  for (int d = 0; d < p.num_ranks; ++d) {
    // Rows src sent to d sit at recv[d].recv_offset[src] in d's order, which is src's send order.
    const std::size_t from = std::size_t(recv[d].recv_offset[src]) * cols;
    const std::size_t n = std::size_t(p.send_count[d]) * cols;
    std::copy(partials[d].begin() + from, partials[d].begin() + from + n,
              returned.begin() + std::size_t(p.send_offset[d]) * cols);
  }
  return returned;
}

std::vector<float> ep_host_combine(const EpSendPlan& plan, std::span<const float> returned, int cols) {
  const int T = plan.num_tokens, K = plan.top_k;
  std::vector<float> out(std::size_t(T) * cols, 0.0f);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < cols; ++c) {
      float acc = 0.0f;
      for (int j = 0; j < K; ++j) {
        const int row = plan.token_rows[std::size_t(t) * K + j];
        if (row >= 0) acc += returned[std::size_t(row) * cols + c];
      }
      out[std::size_t(t) * cols + c] = acc;
    }
  return out;
}

}  // namespace shapejit::comm
