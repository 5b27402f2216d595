// The routing layout's host reference: hand-checked example, then its defining invariants on
// random routings with dropped entries, idle experts, one hot expert and capacity overflow.
#include <gtest/gtest.h>

#include <random>

#include "routing_invariants.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {

MoeConfig small_config(int experts, int top_k, int align) {
  MoeConfig c;
  c.hidden = 512;
  c.intermediate = 512;
  c.num_experts = experts;
  c.top_k = top_k;
  c.align_m = align;
  return c;
}

}  // namespace

TEST(MoeRoutingReference, HandCheckedContiguousExample) {
  // 3 tokens, top-2, 3 experts, rows aligned to 64: expert 0 gets (t0,j1) and (t2,j0), expert 1
  // nothing, expert 2 gets (t0,j0); (t1,*) are dropped / routed elsewhere.
  MoeConfig c = small_config(3, 2, 64);
  const std::vector<int> topk = {2, 0, -1, 7, 0, -1};
  const MoeRoutingHost r = moe_route_reference(c, 3, topk);
  EXPECT_EQ(r.tokens_per_expert, (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(r.row_begin, (std::vector<int>{0, 64, 64, 128}));
  EXPECT_EQ(r.token_slot, (std::vector<int>{64, 0, -1, -1, 1, -1}));
  EXPECT_EQ(r.row_to_token[0], 0);
  EXPECT_EQ(r.row_to_token[1], 2);
  EXPECT_EQ(r.row_to_token[2], -1);
  EXPECT_EQ(r.row_to_token[64], 0);
  EXPECT_EQ(r.m_indices[0], 0);
  EXPECT_EQ(r.m_indices[1], 0);
  EXPECT_EQ(r.m_indices[2], -1);
  EXPECT_EQ(r.m_indices[64], 2);
  EXPECT_EQ(r.m_indices[65], -1);
  // Worst case: 6 entries + 3 experts * 63 padding rows, rounded to 64.
  EXPECT_EQ(moe_num_rows(c, 3), 256);
}

TEST(MoeRoutingReference, ExpertBeginSelectsThisRanksExperts) {
  MoeConfig c = small_config(2, 2, 64);
  c.expert_begin = 4;   // this GPU serves global experts 4 and 5
  const std::vector<int> topk = {5, 0, 4, 6, 3, 5};
  const MoeRoutingHost r = moe_route_reference(c, 3, topk);
  EXPECT_EQ(r.tokens_per_expert, (std::vector<int>{1, 2}));
  EXPECT_EQ(r.token_slot, (std::vector<int>{64, -1, 0, -1, -1, 65}));
  test::expect_layout_invariants(c, 3, topk, r);
}

TEST(MoeRoutingReference, RandomRoutingsWithDroppedEntriesSatisfyTheLayout) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const int T = 1 + static_cast<int>(rng() % 700);
    const int E = 1 + static_cast<int>(rng() % 64);
    const int k = 1 + static_cast<int>(rng() % std::min(E, 8));
    MoeConfig c = small_config(E, k, (rng() % 2) ? 128 : 64);
    const auto topk = test::random_topk(T, k, E, 0.15, seed % 2 ? 1.1 : 0.0, seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    test::expect_layout_invariants(c, T, topk, moe_route_reference(c, T, topk));
  }
}

TEST(MoeRoutingReference, ExpertsWithZeroTokensGetEmptyRanges) {
  MoeConfig c = small_config(16, 2, 128);
  std::vector<int> topk;
  for (int t = 0; t < 100; ++t) topk.insert(topk.end(), {3, 11});
  const MoeRoutingHost r = moe_route_reference(c, 100, topk);
  for (int e = 0; e < 16; ++e) {
    const int span = r.row_begin[e + 1] - r.row_begin[e];
    EXPECT_EQ(span, (e == 3 || e == 11) ? 128 : 0) << "expert " << e;
  }
  test::expect_layout_invariants(c, 100, topk, r);
}

TEST(MoeRoutingReference, AllTokensOnOneExpert) {
  MoeConfig c = small_config(8, 1, 128);
  const std::vector<int> topk(1000, 5);
  const MoeRoutingHost r = moe_route_reference(c, 1000, topk);
  EXPECT_EQ(r.tokens_per_expert[5], 1000);
  EXPECT_EQ(r.row_begin[5], 0);
  EXPECT_EQ(r.row_begin[8], 1024);
  for (int t = 0; t < 1000; ++t) ASSERT_EQ(r.token_slot[t], t);   // stable: token order
  test::expect_layout_invariants(c, 1000, topk, r);
}

TEST(MoeRoutingReference, AllEntriesDroppedLeaveEveryRowUnused) {
  MoeConfig c = small_config(4, 4, 64);
  const std::vector<int> topk(40, -1);
  const MoeRoutingHost r = moe_route_reference(c, 10, topk);
  EXPECT_EQ(r.row_begin.back(), 0);
  for (int v : r.row_to_token) ASSERT_EQ(v, -1);
  for (int v : r.token_slot) ASSERT_EQ(v, -1);
}

TEST(MoeRoutingReference, MaskedLayoutDropsEntriesPastCapacityInEntryOrder) {
  MoeConfig c = small_config(4, 2, 64);
  c.layout = MoeLayout::masked;
  c.max_tokens_per_expert = 64;
  std::vector<int> topk;
  for (int t = 0; t < 100; ++t) topk.insert(topk.end(), {1, t % 4 == 0 ? 2 : -1});
  const MoeRoutingHost r = moe_route_reference(c, 100, topk);
  EXPECT_EQ(r.tokens_per_expert, (std::vector<int>{0, 64, 25, 0}));
  EXPECT_EQ(r.row_begin, (std::vector<int>{0, 64, 128, 192, 256}));
  EXPECT_EQ(r.token_slot[2 * 63], 64 + 63);
  EXPECT_EQ(r.token_slot[2 * 64], -1);   // token 64 is the 65th on expert 1
  test::expect_layout_invariants(c, 100, topk, r);
  for (unsigned seed = 1; seed <= 10; ++seed) {
    const auto rt = test::random_topk(300, 2, 4, 0.1, 1.5, seed);
    test::expect_layout_invariants(c, 300, rt, moe_route_reference(c, 300, rt));
  }
}

TEST(MoeRoutingReference, WrongTopkSizeIsRejected) {
  MoeConfig c = small_config(4, 2, 64);
  const std::vector<int> topk(5, 0);
  try {
    moe_route_reference(c, 3, topk);
    FAIL() << "accepted 5 entries for 3 tokens x top-2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("topk_idx"), std::string::npos) << e.what();
  }
}
