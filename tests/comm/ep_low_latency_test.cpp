// Low-latency mode's fixed-capacity layout against the model: kept entries are the first
// `capacity` of each local expert in (source, token, k) order, the rest are counted as overflow,
// and no row index ever leaves [0, L · capacity).
#include <gtest/gtest.h>

#include <random>

#include "ep_exchange_reference.hpp"
#include "shapejit/comm/ep_low_latency.hpp"
#include "shapejit/error.hpp"

namespace shapejit::test {
namespace {

TEST(EpLowLatency, CapacityKeepsTheFirstEntriesAndCountsOverflow) {
  std::mt19937 rng(99);
  for (int R : {1, 2, 5, 8, 32, 64}) {
    for (int capacity : {1, 7, 64, 4096}) {
      SCOPED_TRACE("ranks " + std::to_string(R) + " capacity " + std::to_string(capacity));
      const int max_tokens = 32;
      const EpWorld w = random_world(rng, R, R * 2, std::min(6, R * 2), max_tokens, 1.5, 1, 0.1);
      std::vector<comm::EpSendPlan> send;
      for (int s = 0; s < R; ++s)
        send.push_back(comm::ep_send_plan(w.placement, s, {w.tokens[s], w.top_k, w.topk_idx[s], w.topk_weights[s]}));
      const auto expected = reference_expert_entries(w);
      const int L = w.placement.experts_per_rank, K = w.top_k;
      long long overflow = 0, expected_overflow = 0;
      for (int d = 0; d < R; ++d) {
        const auto info = comm::ep_low_latency_recv_expert(send, d, max_tokens);
        const auto plan = comm::ep_low_latency_plan(d, R, L, K, max_tokens, capacity, info);
        for (int le = 0; le < L; ++le) {
          const auto& want = expected[d][le];
          const int kept = std::min<int>(capacity, want.size());
          ASSERT_EQ(plan.masked_m[le], kept);
          ASSERT_EQ(plan.overflow[le], int(want.size()) - kept);
          expected_overflow += int(want.size()) - kept;
          for (int i = 0; i < kept; ++i) {
            const int row = le * capacity + i;
            const int r = plan.row_to_recv[row];
            const int src = r / max_tokens;
            const int send_row = send[src].send_offset[d] + r % max_tokens;
            ASSERT_LT(send_row, send[src].send_offset[d + 1]);
            int k = -1;
            for (int j = 0; j < K; ++j) if (plan.recv_slot[std::size_t(r) * K + j] == row) k = j;
            ASSERT_EQ((EpEntry{src, send[src].send_token[send_row], k}), want[i]);
          }
          for (int i = kept; i < capacity; ++i) ASSERT_EQ(plan.row_to_recv[le * capacity + i], -1);
        }
        for (int slot : plan.recv_slot) ASSERT_TRUE(slot >= -1 && slot < L * capacity);
        overflow += plan.total_overflow();
      }
      EXPECT_EQ(overflow, expected_overflow);
      if (capacity == 4096) {
        EXPECT_EQ(overflow, 0);
      }
    }
  }
}

TEST(EpLowLatency, MoreTokensThanTheFixedBlockIsAnError) {
  const auto p = comm::EpPlacement::identity(4, 2);
  std::vector<int> idx(10, 0);
  std::vector<float> wts(10, 1.0f);
  std::vector<comm::EpSendPlan> send = {comm::ep_send_plan(p, 0, {10, 1, idx, wts}),
                                        comm::ep_send_plan(p, 1, {10, 1, idx, wts})};
  EXPECT_THROW(comm::ep_low_latency_recv_expert(send, 0, 8), Error);
  EXPECT_THROW(comm::ep_low_latency_plan(0, 2, 2, 1, 8, 0, std::vector<int>(16, -1)), Error);
}

}  // namespace
}  // namespace shapejit::test
