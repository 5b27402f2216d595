// The exchange's host plans (comm/ep_layout.cpp) against the independent model of the whole
// exchange, for 1–64 simulated ranks: every rank's view is computed in this one process.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ep_exchange_reference.hpp"
#include "shapejit/comm/ep_layout.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/host_numerics.hpp"

namespace shapejit::test {
namespace {

float to_bf16(float v) { return runtime::bf16_to_float(runtime::float_to_bf16(v)); }

struct Views {
  std::vector<comm::EpSendPlan> send;
  std::vector<comm::EpRecvPlan> recv;
  std::vector<comm::EpHostRecv> received;
};

Views plan_all(const EpWorld& w, int align_m, const std::vector<std::vector<float>>& x, int cols) {
  Views v;
  const int R = w.placement.num_ranks;
  for (int s = 0; s < R; ++s)
    v.send.push_back(comm::ep_send_plan(w.placement, s, {w.tokens[s], w.top_k, w.topk_idx[s], w.topk_weights[s]}));
  v.received = comm::ep_host_dispatch(v.send, x, cols);
  for (int d = 0; d < R; ++d)
    v.recv.push_back(comm::ep_recv_plan(d, R, w.placement.experts_per_rank, w.top_k, align_m,
                                        comm::ep_counts_for(v.send, d), v.received[d].expert));
  return v;
}

// Checks every rank's layout and the combined outputs; counts the routed entries it saw.
void check_world(const EpWorld& w, int align_m, int cols, long long& entries) {
  const int R = w.placement.num_ranks, L = w.placement.experts_per_rank, K = w.top_k;
  std::mt19937 rng(7);
  std::normal_distribution<float> n01;
  std::vector<std::vector<float>> x(R);
  for (int s = 0; s < R; ++s) {
    x[s].resize(std::size_t(w.tokens[s]) * cols);
    for (auto& v : x[s]) v = n01(rng);
  }
  const Views v = plan_all(w, align_m, x, cols);
  const auto expected = reference_expert_entries(w);
  entries = 0;
  std::vector<std::vector<float>> y(R), partials(R);
  for (int d = 0; d < R; ++d) {
    const comm::EpRecvPlan& rp = v.recv[d];
    y[d].assign(std::size_t(rp.num_rows()) * cols, std::nanf(""));   // padding rows stay poisoned
    for (int le = 0; le < L; ++le) {
      SCOPED_TRACE("rank " + std::to_string(d) + " local expert " + std::to_string(le));
      const auto& want = expected[d][le];
      ASSERT_EQ(rp.tokens_per_expert[le], static_cast<int>(want.size()));
      ASSERT_EQ(rp.row_begin[le] % align_m, 0);
      ASSERT_EQ(rp.row_begin[le + 1] - rp.row_begin[le], (int(want.size()) + align_m - 1) / align_m * align_m);
      for (int i = 0; i < static_cast<int>(want.size()); ++i) {
        const int row = rp.row_begin[le] + i;
        ASSERT_EQ(rp.m_indices[row], le);
        const int r = rp.row_to_recv[row];
        const int src = int(std::upper_bound(rp.recv_offset.begin(), rp.recv_offset.end(), r) - rp.recv_offset.begin()) - 1;
        const comm::EpSendPlan& sp = v.send[src];
        const int send_row = sp.send_offset[d] + (r - rp.recv_offset[src]);
        const int t = sp.send_token[send_row];
        int k = -1;
        for (int j = 0; j < K; ++j) if (rp.recv_slot[std::size_t(r) * K + j] == row) k = j;
        ASSERT_EQ((EpEntry{src, t, k}), want[i]) << "GEMM row " << row;
        // The received payload is the source token's row; the weight is the source's.
        for (int c = 0; c < cols; ++c)
          ASSERT_EQ(v.received[d].rows[std::size_t(r) * cols + c], x[src][std::size_t(t) * cols + c]);
        ASSERT_EQ(v.received[d].weight[std::size_t(r) * K + k], w.topk_weights[src][t * K + k]);
        const int e = w.topk_idx[src][t * K + k];
        for (int c = 0; c < cols; ++c) y[d][std::size_t(row) * cols + c] = reference_expert_output(e, src, t, c);
        ++entries;
      }
      for (int row = rp.row_begin[le] + int(want.size()); row < rp.row_begin[le + 1]; ++row) {
        ASSERT_EQ(rp.m_indices[row], -1);
        ASSERT_EQ(rp.row_to_recv[row], -1);
      }
    }
    partials[d] = comm::ep_host_partials(rp, v.received[d], y[d], cols, to_bf16);
  }
  const auto want_out = reference_combine(w, cols, to_bf16);
  for (int s = 0; s < R; ++s) {
    const auto returned = comm::ep_host_return(v.send, v.recv, partials, s, cols);
    const auto out = comm::ep_host_combine(v.send[s], returned, cols);
    // Same operations in the same order as the model: equal to the bit.
    for (std::size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i], want_out[s][i]) << "rank " << s << " element " << i;
      EXPECT_FALSE(std::isnan(out[i]));
    }
  }
}

TEST(EpLayout, MatchesTheModelFor1To64RanksWithSkewAndReplicas) {
  std::mt19937 rng(2024);
  for (int R : {1, 2, 3, 4, 8, 16, 32, 64}) {
    for (int extra : {0, 1, 2}) {
      for (double skew : {0.0, 1.2}) {
        SCOPED_TRACE("ranks " + std::to_string(R) + " extra slots " + std::to_string(extra) +
                     " skew " + std::to_string(skew));
        const int experts = R * (R >= 32 ? 2 : 4);
        const int top_k = std::min(8, experts);
        const int max_tokens = R >= 32 ? 24 : 96;
        const EpWorld w = random_world(rng, R, experts, top_k, max_tokens, skew, extra, 0.05);
        w.placement.validate();
        long long entries = 0;
        check_world(w, R % 2 ? 64 : 128, 3, entries);
        if (HasFatalFailure()) return;
        long long routed = 0;
        for (int s = 0; s < R; ++s)
          for (int e : w.topk_idx[s]) routed += e >= 0;
        EXPECT_EQ(entries, routed);
      }
    }
  }
}

TEST(EpLayout, ReplicasShareAnExpertsLoad) {
  // Expert 0 takes every token; with 4 replicas each gets a quarter (± one).
  comm::EpPlacement p = comm::EpPlacement::identity(8, 4);
  p.experts_per_rank = 3;   // two slots per rank for experts, one spare slot per rank
  for (int e = 0; e < 8; ++e) p.log2phy[e] = {(e / 2) * 3 + e % 2};
  p.log2phy[0] = {0, 2, 5, 11};
  p.logcnt = {4, 1, 1, 1, 1, 1, 1, 1};
  p.validate();
  std::vector<int> idx(400, 0);
  std::vector<float> wts(400, 1.0f);
  for (int rank = 0; rank < 4; ++rank) {
    const auto plan = comm::ep_send_plan(p, rank, {400, 1, idx, wts});
    for (int slot : {0, 2, 5, 11})
      EXPECT_EQ(plan.expert_count[std::size_t(slot / 3) * 3 + slot % 3], 100) << "rank " << rank << " slot " << slot;
  }
}

TEST(EpLayout, OutOfRangeExpertIdNamesTokenAndEntry) {
  const auto p = comm::EpPlacement::identity(16, 4);
  std::vector<int> idx = {0, 1, 2, 16};
  std::vector<float> wts(4, 1.0f);
  try {
    comm::ep_send_plan(p, 2, {2, 2, idx, wts});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("rank 2 token 1 entry 1 names expert 16"), std::string::npos) << e.what();
  }
  idx[3] = -2;
  EXPECT_THROW(comm::ep_send_plan(p, 2, {2, 2, idx, wts}), Error);
}

TEST(EpLayout, RoutingInfoThatContradictsTheCountsIsRejected) {
  comm::EpCounts counts{{1, 0}, {1, 0, 0, 0}};  // rank 0 announced one entry for local expert 0
  std::vector<int> info = {1, -1};              // but its row names local expert 1
  EXPECT_THROW(comm::ep_recv_plan(0, 2, 2, 2, 128, counts, info), Error);
}

TEST(EpPlacement, ValidateRejectsASlotUsedTwiceAndBadCounts) {
  auto p = comm::EpPlacement::identity(8, 2);
  p.log2phy[1] = {0};
  EXPECT_THROW(p.validate(), Error);
  p = comm::EpPlacement::identity(8, 2);
  p.logcnt[3] = 2;
  EXPECT_THROW(p.validate(), Error);
  EXPECT_THROW(comm::EpPlacement::identity(7, 2), Error);
  EXPECT_NE(comm::EpPlacement::identity(8, 2).fingerprint(), comm::EpPlacement::identity(8, 4).fingerprint());
}

}  // namespace
}  // namespace shapejit::test
