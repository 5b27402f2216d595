// Receive-side sizing of normal mode: grow-only reservations from the exchanged counts, and the
// memory that saves against reserving ranks · max_tokens rows, on the DeepSeek-V3 shape.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "shapejit/comm/ep_layout.hpp"
#include "shapejit/comm/ep_recv_capacity.hpp"
#include "shapejit/error.hpp"

namespace shapejit::test {
namespace {

TEST(EpRecvCapacity, GrowsOnlyGeometricallyAndNeverPastTheLimit) {
  const int limit = 8 * 4096;
  int reserved = 0;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> need(0, limit);
  int grows = 0;
  for (int call = 0; call < 2000; ++call) {
    // A slowly rising load with noise, then anything up to the limit.
    const int needed = call < 1000 ? std::min(limit, call * 20 + int(rng() % 300)) : need(rng);
    const int next = comm::ep_recv_rows_to_reserve(reserved, needed, limit);
    ASSERT_GE(next, needed);
    ASSERT_GE(next, reserved) << "shrank at call " << call;
    ASSERT_LE(next, limit);
    if (next != reserved) {
      ++grows;
      ASSERT_TRUE(next == limit || next % comm::kEpRecvRowQuantum == 0) << next;
      ASSERT_TRUE(next == limit || next >= reserved + reserved / 4) << reserved << " -> " << next;
    }
    reserved = next;
  }
  // 20 rows more per call over 1000 calls: a geometric policy reallocates a handful of times.
  EXPECT_LE(grows, 20);
  EXPECT_EQ(comm::ep_recv_rows_to_reserve(512, 300, limit), 512);
  EXPECT_EQ(comm::ep_recv_rows_to_reserve(0, 1, limit), comm::kEpRecvRowQuantum);
  EXPECT_EQ(comm::ep_recv_rows_to_reserve(0, 100, 100), 100);
  EXPECT_THROW(comm::ep_recv_rows_to_reserve(0, limit + 1, limit), Error);
  EXPECT_THROW(comm::ep_recv_rows_to_reserve(0, -1, limit), Error);
}

TEST(EpRecvCapacity, MemoryFollowsTheRowsReceived) {
  runtime::MoeConfig c;
  c.hidden = 1024;
  c.intermediate = 512;
  c.num_experts = 4;
  c.top_k = 4;
  c.align_m = 128;
  const auto m = comm::ep_recv_memory(c, 1000);
  EXPECT_EQ(m.wire, 1000u * (1024 + 4 * 8 + 4 * 4 + 4 * 4));   // FP8 row, 8 scales, 4 ids, 4 weights
  EXPECT_EQ(m.partials, 1000u * 1024 * 2);
  EXPECT_EQ(m.workspace, runtime::MoeWorkspace::bytes_needed(c, 1000));
  EXPECT_LT(comm::ep_recv_memory(c, 1000).total(), comm::ep_recv_memory(c, 2000).total());
}

// DeepSeek-V3 at EP8 with 4096 tokens per rank, uniform top-8 routing: what a rank reserved
// before (8 · 4096 receive rows) against what it receives. Prints both for docs/ep.md.
TEST(EpRecvCapacity, DeepSeekV3Ep8ReceivesFarLessThanRanksTimesTokens) {
  const int R = 8, T = 4096, E = 256, K = 8;
  const auto placement = comm::EpPlacement::identity(E, R);
  std::mt19937 rng(11);
  std::vector<int> received(R, 0);
  std::vector<int> all(E);
  for (int e = 0; e < E; ++e) all[e] = e;
  for (int s = 0; s < R; ++s) {
    std::vector<int> idx;
    for (int t = 0; t < T; ++t) {
      for (int j = 0; j < K; ++j) std::swap(all[j], all[j + rng() % (E - j)]);
      idx.insert(idx.end(), all.begin(), all.begin() + K);
    }
    const std::vector<float> w(idx.size(), 1.0f / K);
    const auto plan = comm::ep_send_plan(placement, s, {T, K, idx, w});
    for (int d = 0; d < R; ++d) received[d] += plan.send_count[d];
  }
  const int most = *std::max_element(received.begin(), received.end());
  runtime::MoeConfig c;   // the receive side's layer: 32 local experts, hidden 7168, top-8
  c.num_experts = E / R;
  c.top_k = K;
  c.align_m = 128;
  const auto before = comm::ep_recv_memory(c, R * T);
  const auto now = comm::ep_recv_memory(c, comm::ep_recv_rows_to_reserve(0, most, R * T));
  std::printf("EP8 x 4096 tokens, DeepSeek-V3, uniform top-8: most rows received by a rank %d of %d; receive side "
              "%.2f GiB (wire %.2f, partials %.2f, workspace %.2f) instead of %.2f GiB (workspace %.2f)\n",
              most, R * T, now.total() / 1073741824.0, now.wire / 1073741824.0, now.partials / 1073741824.0,
              now.workspace / 1073741824.0, before.total() / 1073741824.0, before.workspace / 1073741824.0);
  // P(a token reaches a given rank) = 1 - C(224, 8) / C(256, 8) ≈ 0.66 under uniform routing.
  EXPECT_NEAR(double(most) / (R * T), 0.66, 0.03);
  EXPECT_LT(now.total(), 0.72 * before.total());
}

}  // namespace
}  // namespace shapejit::test
