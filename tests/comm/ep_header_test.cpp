// The cross-rank set-up check: any field that differs names the rank, the field and both values.
#include <gtest/gtest.h>

#include <vector>

#include "shapejit/comm/ep_header.hpp"
#include "shapejit/error.hpp"

namespace shapejit::test {
namespace {

std::vector<comm::EpHeader> headers(int n) {
  std::vector<comm::EpHeader> h(n);
  const auto placement = comm::EpPlacement::identity(64, n);
  for (int r = 0; r < n; ++r) {
    h[r].rank = r; h[r].num_ranks = n; h[r].hidden = 7168; h[r].top_k = 8;
    h[r].num_experts = 64; h[r].experts_per_rank = 64 / n; h[r].max_tokens = 4096;
    h[r].align_m = 128; h[r].placement = placement.fingerprint();
  }
  return h;
}

std::string error_of(const std::vector<comm::EpHeader>& h) {
  try { comm::check_headers(h); } catch (const Error& e) { return e.what(); }
  return "";
}

TEST(EpHeader, EqualHeadersPass) { EXPECT_NO_THROW(comm::check_headers(headers(8))); }

TEST(EpHeader, MismatchesNameRankAndField) {
  auto h = headers(8);
  h[5].hidden = 4096;
  EXPECT_EQ(error_of(h), "EP ranks disagree on hidden: rank 0 has 7168, rank 5 has 4096");
  h = headers(4);
  h[3].placement ^= 1;
  EXPECT_NE(error_of(h).find("expert placement"), std::string::npos);
  h = headers(4);
  h[2].mode = 1;
  EXPECT_NE(error_of(h).find("mode"), std::string::npos);
  h = headers(4);
  h[1].rank = 2;
  EXPECT_NE(error_of(h).find("slot 1 holds rank 2"), std::string::npos);
  h = headers(2);
  h[1].magic = 0;
  EXPECT_NE(error_of(h).find("no shapejit EP header"), std::string::npos);
}

}  // namespace
}  // namespace shapejit::test
