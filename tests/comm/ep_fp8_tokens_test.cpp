// FP8 tokens (E4M3 + 1x128 scales, either layout) through the whole exchange on the host, for
// 1–64 simulated ranks in both modes: comm's host execution (the GPU path's oracle) against the
// independent model, bit for bit (bytes and scales); and the front end's checks of the tokens.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "ep_exchange_reference.hpp"
#include "shapejit/comm/ep_layout.hpp"
#include "shapejit/comm/ep_low_latency.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/ep.hpp"

namespace shapejit::test {
namespace {

std::vector<comm::EpSendPlan> send_plans(const EpWorld& w) {
  std::vector<comm::EpSendPlan> send;
  for (int s = 0; s < w.placement.num_ranks; ++s)
    send.push_back(comm::ep_send_plan(w.placement, s, {w.tokens[s], w.top_k, w.topk_idx[s], w.topk_weights[s]}));
  return send;
}

std::vector<comm::EpHostFp8Tokens> host_tokens(const EpFp8Tokens& x) {
  std::vector<comm::EpHostFp8Tokens> v;
  for (std::size_t s = 0; s < x.data.size(); ++s) v.push_back({x.data[s], x.scales[s], x.m_major, x.stride[s]});
  return v;
}

// Bit-exact: bytes by memcmp, scales by their bits (a NaN read from padding fails too).
void expect_same(const comm::EpHostFp8Rows& got, const EpGemmFp8Input& want, int rank) {
  ASSERT_EQ(got.data.size(), want.data.size()) << "rank " << rank;
  ASSERT_EQ(got.scales.size(), want.scales.size()) << "rank " << rank;
  for (std::size_t i = 0; i < want.data.size(); ++i)
    ASSERT_EQ(got.data[i], want.data[i]) << "rank " << rank << " byte " << i;
  for (std::size_t i = 0; i < want.scales.size(); ++i) {
    std::uint32_t a, b;
    std::memcpy(&a, &got.scales[i], 4);
    std::memcpy(&b, &want.scales[i], 4);
    ASSERT_EQ(a, b) << "rank " << rank << " scale " << i << ": " << got.scales[i] << " vs " << want.scales[i];
  }
}

TEST(EpFp8Tokens, NormalModeRowsAndScalesAreTheGivenOnesInTheGemmLayout) {
  std::mt19937 rng(314);
  const int H = 512;
  long long rows_checked = 0;
  for (int R : {1, 2, 3, 8, 32, 64})
    for (bool m_major : {false, true}) {
      SCOPED_TRACE("ranks " + std::to_string(R) + (m_major ? " M-major" : " row-major") + " scales");
      const EpWorld w = random_world(rng, R, R * (R >= 32 ? 2 : 4), std::min(8, R * 2), R >= 32 ? 16 : 64,
                                     1.2, 1, 0.05);
      const EpFp8Tokens x = random_fp8_tokens(rng, w, H, m_major, 4);
      const auto send = send_plans(w);
      const auto received = comm::ep_host_dispatch_fp8(send, host_tokens(x), H);
      const int align_m = R % 2 ? 64 : 128;
      for (int d = 0; d < R; ++d) {
        std::vector<int> info;
        for (int s = 0; s < R; ++s)
          for (int row = send[s].send_offset[d]; row < send[s].send_offset[d + 1]; ++row)
            info.insert(info.end(), send[s].send_expert.begin() + std::size_t(row) * w.top_k,
                        send[s].send_expert.begin() + std::size_t(row + 1) * w.top_k);
        const auto plan = comm::ep_recv_plan(d, R, w.placement.experts_per_rank, w.top_k, align_m,
                                             comm::ep_counts_for(send, d), info);
        const long long stride = (plan.num_rows() + 3) / 4 * 4 + 8;
        const auto want = reference_gemm_input_fp8(w, x, d, align_m, 0, stride);
        ASSERT_EQ(plan.num_rows(), want.rows);
        expect_same(comm::ep_host_gemm_input(plan.row_to_recv, received[d], H, stride), want, d);
        if (HasFatalFailure()) return;
        rows_checked += want.rows;
      }
    }
  EXPECT_GT(rows_checked, 1000);
}

TEST(EpFp8Tokens, LowLatencyModeKeepsTheGivenRowsUpToCapacity) {
  std::mt19937 rng(2718);
  const int H = 1024, max_tokens = 24;
  for (int R : {1, 2, 5, 16, 64})
    for (int capacity : {3, 64})
      for (bool m_major : {false, true}) {
        SCOPED_TRACE("ranks " + std::to_string(R) + " capacity " + std::to_string(capacity) +
                     (m_major ? " M-major" : " row-major"));
        const EpWorld w = random_world(rng, R, R * 2, std::min(6, R * 2), max_tokens, 1.5, 1, 0.1);
        const EpFp8Tokens x = random_fp8_tokens(rng, w, H, m_major, 0);
        const auto send = send_plans(w);
        const auto received = comm::ep_host_dispatch_fp8(send, host_tokens(x), H, max_tokens);
        const int L = w.placement.experts_per_rank;
        for (int d = 0; d < R; ++d) {
          ASSERT_EQ(received[d].data.size(), std::size_t(R) * max_tokens * H);
          const auto info = comm::ep_low_latency_recv_expert(send, d, max_tokens);
          const auto plan = comm::ep_low_latency_plan(d, R, L, w.top_k, max_tokens, capacity, info);
          const long long stride = L * capacity;
          expect_same(comm::ep_host_gemm_input(plan.row_to_recv, received[d], H, stride),
                      reference_gemm_input_fp8(w, x, d, 1, capacity, stride), d);
          if (HasFatalFailure()) return;
        }
      }
}

// The front end refuses bad tokens with an error naming the problem, before any driver call.
void expect_refused(const runtime::EpTokens& x, int num_tokens, const std::string& words) {
  runtime::EpKernelConfig c{2, 4, 8, 1, 4, 1024, false, 0};
  try {
    runtime::validate(c, num_tokens, x);
    ADD_FAILURE() << "accepted; expected an error containing '" << words << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(EpFp8Tokens, BadTokensAreRefusedByName) {
  const CUdeviceptr p = 0x10000, s = 0x20000;
  using runtime::DType;
  using runtime::ScaleLayout;
  expect_refused({.dtype = DType::f32, .data = p}, 4, "dtype f32");
  expect_refused({.dtype = DType::e4m3, .data = p}, 4, "scales is null");
  expect_refused({.dtype = DType::e4m3, .data = p + 8, .scales = s}, 4, "16-byte aligned");
  expect_refused({.dtype = DType::e4m3, .data = p, .scales = s + 2}, 4, "4-byte aligned");
  expect_refused({.dtype = DType::e4m3, .data = p, .scales = s, .group_size = 64}, 4, "1x128");
  expect_refused({.dtype = DType::e4m3, .data = p, .scales = s, .scale_stride = 9}, 4, "[T, 8]");
  expect_refused({.dtype = DType::e4m3, .data = p, .scales = s, .scale_layout = ScaleLayout::m_major,
                  .scale_stride = 4}, 6, "multiple of 4 and >= num_tokens = 6");
  expect_refused({.dtype = DType::e4m3, .data = p, .scales = s, .scale_layout = ScaleLayout::m_major,
                  .scale_stride = 10}, 6, "multiple of 4");
  expect_refused({.dtype = DType::bf16, .data = p, .scales = s}, 4, "take no scales");
  expect_refused({.dtype = DType::bf16}, 4, "tokens is null");
  // And what it accepts: both layouts with default and explicit strides, no tokens at all.
  runtime::EpKernelConfig c{2, 4, 8, 1, 4, 1024, false, 0};
  EXPECT_NO_THROW(runtime::validate(c, 4, {.dtype = DType::e4m3, .data = p, .scales = s}));
  EXPECT_NO_THROW(runtime::validate(c, 4, {.dtype = DType::e4m3, .data = p, .scales = s, .scale_stride = 8}));
  EXPECT_NO_THROW(runtime::validate(
      c, 6, {.dtype = DType::e4m3, .data = p, .scales = s, .scale_layout = ScaleLayout::m_major, .scale_stride = 8}));
  EXPECT_NO_THROW(runtime::validate(c, 0, {.dtype = DType::e4m3}));
  EXPECT_EQ(runtime::ep_input_scale_stride(c, 6, {.dtype = DType::e4m3, .scale_layout = ScaleLayout::m_major}), 8);
}

TEST(EpFp8Tokens, SpecsNameTheVariantOfTheInput) {
  runtime::EpKernelConfig c{2, 4, 8, 1, 4, 1024, false, 0};
  runtime::DeviceInfo target;
  target.arch = "sm_90a";
  auto kernels = [&](const runtime::EpTokens& x) {
    std::vector<std::string> v;
    for (const auto& s : runtime::ep_kernel_specs(c, target, x)) v.push_back(s.canonical());
    return v;
  };
  const auto bf16 = kernels({});
  const auto row = kernels({.dtype = runtime::DType::e4m3});
  const auto mm = kernels({.dtype = runtime::DType::e4m3, .scale_layout = runtime::ScaleLayout::m_major});
  ASSERT_EQ(bf16.size(), row.size());
  EXPECT_NE(bf16[3].find("moe_dispatch_fp8"), std::string::npos) << bf16[3];
  EXPECT_NE(row[3].find("ep_send_fp8_rows<1024,4,false>"), std::string::npos) << row[3];
  EXPECT_NE(mm[3].find("ep_send_fp8_rows<1024,4,true>"), std::string::npos) << mm[3];
  EXPECT_THROW(runtime::ep_kernel_specs(c, target, {.dtype = runtime::DType::i32}), Error);
}

}  // namespace
}  // namespace shapejit::test
