// The whole EP path on one GPU through a real NCCL communicator of size 1: dispatch (layout,
// count exchange, grouped send/recv to itself, receive layout, permute) and combine, checked row
// by row and output by output against the host plans and the model. Skips without a GPU/NCCL.
#include <gtest/gtest.h>

#include "ep_world_check.hpp"
#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "support/gpu_test.hpp"

namespace shapejit::test {
namespace {

comm::EpGroup one_rank_group() {
  return comm::EpGroup::create(0, 1, comm::new_unique_id(), {.comm_sms = 8});
}

#define SHAPEJIT_REQUIRE_NCCL()                                  \
  do {                                                           \
    std::string why_;                                            \
    if (!comm::nccl_available(&why_)) GTEST_SKIP() << why_;      \
  } while (0)

// Tokens given as BF16, or as FP8 with row-major or M-major 1x128 scales (sent as given).
class EpGpuInput : public ::testing::TestWithParam<const char*> {};

TEST_P(EpGpuInput, NormalModeOneRankEndToEnd) {
  SHAPEJIT_REQUIRE_GPU();
  SHAPEJIT_REQUIRE_NCCL();
  auto group = one_rank_group();
  EpCheckOptions o;
  o.input = GetParam();
  o.seed = static_cast<unsigned>(::time(nullptr));
  EpCheckResult r;
  EXPECT_TRUE(run_ep_world_check(group, o, r)) << r.report << " (seed " << o.seed << ")";
  EXPECT_GT(r.rows_checked, 0);
  EXPECT_GT(r.outputs_checked, 0);
}

TEST_P(EpGpuInput, LowLatencyModeOneRankWithAndWithoutOverflow) {
  SHAPEJIT_REQUIRE_GPU();
  SHAPEJIT_REQUIRE_NCCL();
  auto group = one_rank_group();
  for (int capacity : {1024, 64}) {
    EpCheckOptions o;
    o.input = GetParam();
    o.mode = comm::EpMode::low_latency;
    o.capacity = capacity;
    o.max_tokens = 128;
    o.seed = static_cast<unsigned>(::time(nullptr)) + capacity;
    EpCheckResult r;
    EXPECT_TRUE(run_ep_world_check(group, o, r)) << r.report << " (seed " << o.seed << ")";
    if (capacity == 1024) {
      EXPECT_EQ(r.overflow, 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, EpGpuInput, ::testing::Values("bf16", "fp8", "fp8-m-major"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(EpGpu, OutOfRangeExpertIdIsAnErrorNotACorruption) {
  SHAPEJIT_REQUIRE_GPU();
  SHAPEJIT_REQUIRE_NCCL();
  auto group = one_rank_group();
  EpCheckOptions o;
  o.fail = "bad-id";
  o.fail_rank = 0;
  EpCheckResult r;
  try {
    run_ep_world_check(group, o, r);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("outside [-1,"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shapejit::test
