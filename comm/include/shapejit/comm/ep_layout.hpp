#pragma once
// The expert-parallel exchange as plain host code: what each rank sends, receives, lays out for
// the grouped GEMM, and reduces in combine. The GPU kernels (templates/ep/) produce exactly these
// arrays; this code is their oracle and the place the orderings are defined:
//
// dispatch (normal mode): a token goes once to every rank that holds one of its top-k experts'
//   chosen replicas (EpPlacement::replica_slot). Send rows are ordered by destination rank, then
//   token. Each row carries the token's FP8 payload, its scales and routing info: for each of the
//   k entries the local expert on the destination (−1: elsewhere) and the weight.
// count exchange: per (source, destination) the tokens and the (token, expert) pairs per local
//   expert; receive rows are ordered by source rank, then the source's send order.
// receive layout: expert-major rows for the grouped contiguous GEMM; expert le's rows are the
//   (receive row, k) pairs naming le, in that order, from row_begin[le], each expert's range
//   padded to align_m (m_indices −1 on padding).
// combine: the expert rank reduces each received row's expert outputs with its weights in FP32
//   (k order) and returns one row per received row (BF16); the source adds the partial rows of
//   each token in FP32 in ascending destination-rank order.
#include <cstdint>
#include <span>
#include <vector>

#include "shapejit/comm/ep_placement.hpp"

namespace shapejit::comm {

// One rank's routing: topk_idx [T, k] logical expert ids (−1: no expert), topk_weights [T, k].
struct EpRouting {
  int num_tokens = 0;
  int top_k = 0;
  std::span<const int> topk_idx;
  std::span<const float> topk_weights;
};

// A source rank's view of dispatch (and of combine's return path).
struct EpSendPlan {
  int rank = 0;
  int num_ranks = 0, experts_per_rank = 0, top_k = 0, num_tokens = 0;
  std::vector<int> slot;            // [T, k] physical slot of each entry, −1 none
  std::vector<int> send_count;      // [R] tokens to each rank
  std::vector<int> send_offset;     // [R + 1] first send row of each rank
  std::vector<int> expert_count;    // [R, L] (token, expert) pairs per destination local expert
  std::vector<int> send_token;      // [S] token of each send row
  std::vector<int> send_expert;     // [S, k] local expert on the destination, −1 elsewhere
  std::vector<float> send_weight;   // [S, k] weight of that entry (0 where −1)
  std::vector<int> token_rows;      // [T, k] send rows of token t in ascending rank, −1 padded
  int total_send() const { return send_offset.back(); }
};

// Throws Error(invalid_argument) naming the token, entry and id when an expert id is outside
// [−1, num_experts) or the routing arrays have the wrong size.
EpSendPlan ep_send_plan(const EpPlacement& placement, int rank, const EpRouting& routing);

// What the count exchange delivers to `rank`: for each source s, send_count[rank] and
// expert_count[rank, :] of s's plan.
struct EpCounts {
  std::vector<int> tokens_from;        // [R]
  std::vector<int> expert_count_from;  // [R, L]
};
EpCounts ep_counts_for(std::span<const EpSendPlan> plans, int rank);

// A destination rank's view: the receive buffer and the GEMM's expert-major layout.
struct EpRecvPlan {
  int rank = 0;
  int num_ranks = 0, experts_per_rank = 0, top_k = 0, align_m = 1;
  std::vector<int> recv_count;       // [R] rows from each source
  std::vector<int> recv_offset;      // [R + 1]
  std::vector<int> tokens_per_expert;// [L] (row, k) pairs per local expert
  std::vector<int> row_begin;        // [L + 1] aligned; row_begin[L] = rows in use
  std::vector<int> m_indices;        // [rows] local expert of each GEMM row, −1 padding
  std::vector<int> row_to_recv;      // [rows] receive row feeding each GEMM row, −1 padding
  std::vector<int> recv_slot;        // [recv rows, k] GEMM row of each routed entry, −1
  int total_recv() const { return recv_offset.back(); }
  int num_rows() const { return row_begin.back(); }
};

// recv_expert [total recv, k]: the routing info received (send_expert rows in receive order).
// Throws Error(invalid_argument) when the counts and routing info disagree (a rank sent routing
// info for other experts than it announced).
EpRecvPlan ep_recv_plan(int rank, int num_ranks, int experts_per_rank, int top_k, int align_m,
                        const EpCounts& counts, std::span<const int> recv_expert);

// ---- host execution of the exchange (the oracle the GPU path is checked against) ----------
// Rows are `cols` floats; dispatch copies send rows (gathered from x [T, cols]) to the receive
// buffers, combine returns partials and reduces them.
struct EpHostRecv {
  std::vector<int> expert;     // [recv rows, k]
  std::vector<float> weight;   // [recv rows, k]
  std::vector<float> rows;     // [recv rows, cols]
};
// All ranks' receive buffers from all ranks' plans and inputs (x[s] is rank s's [T_s, cols]).
std::vector<EpHostRecv> ep_host_dispatch(std::span<const EpSendPlan> plans,
                                         std::span<const std::vector<float>> x, int cols);
// FP8 tokens (dispatch's EpTokens with dtype e4m3): the same exchange, bytes and scales moved as
// given. One rank's tokens: data [T, hidden] E4M3 bytes, FP32 1x128 scales row-major
// (scales[t · hidden/128 + g]) or M-major (scales[g · scale_stride + t]).
struct EpHostFp8Tokens {
  std::span<const std::uint8_t> data;
  std::span<const float> scales;
  bool scales_m_major = false;
  long long scale_stride = 0;   // M-major only
};
// FP8 rows with row-major 1x128 scales: the wire format (receive order) or, from
// ep_host_gemm_input, the grouped GEMM's rows with M-major scales [hidden/128][scale_stride].
struct EpHostFp8Rows {
  std::vector<std::uint8_t> data;
  std::vector<float> scales;
};
// What every rank receives: the rows each source sends it, in receive order (max_tokens > 0:
// low-latency mode's fixed blocks of max_tokens rows per source, unused rows zero).
std::vector<EpHostFp8Rows> ep_host_dispatch_fp8(std::span<const EpSendPlan> plans,
                                                std::span<const EpHostFp8Tokens> x, int hidden,
                                                int max_tokens = 0);
// The receive-side permute: GEMM row r holds receive row row_to_recv[r] (EpRecvPlan's or
// EpLowLatencyPlan's); padding rows are zero bytes with scale 1 (finite for the GEMM).
// scale_stride >= the GEMM rows.
EpHostFp8Rows ep_host_gemm_input(std::span<const int> row_to_recv, const EpHostFp8Rows& recv, int hidden,
                                 long long scale_stride);

// The expert rank's partial rows: partial[i] = Σ_k weight[i,k] · y[recv_slot[i,k]] in FP32 (k
// order), rounded by `round` (e.g. to BF16, the wire format) — y [rows, cols].
std::vector<float> ep_host_partials(const EpRecvPlan& plan, const EpHostRecv& recv,
                                    std::span<const float> y, int cols, float (*round)(float));
// Source-side combine: out[t] = Σ over token_rows[t] of returned[row] (FP32, ascending rank),
// where returned is the source's send-ordered buffer of partials coming back.
std::vector<float> ep_host_combine(const EpSendPlan& plan, std::span<const float> returned, int cols);
// The returned buffer of source s: rows partials[d] send back, in s's send order.
std::vector<float> ep_host_return(std::span<const EpSendPlan> plans,
                                  std::span<const EpRecvPlan> recv,
                                  std::span<const std::vector<float>> partials, int src, int cols);

}  // namespace shapejit::comm
