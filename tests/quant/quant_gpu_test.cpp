#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "support/gpu_test.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/runtime.hpp"

using namespace shapejit::runtime;

namespace {

// The kernel and the host reference do the same FP32 arithmetic and the same RNE conversion,
// so the outputs must agree bit for bit (tolerance: none).
void check_against_reference(int m, int k, int group, ScaleLayout layout) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> mag(-4.0f, 4.0f);
  std::vector<std::uint16_t> x(static_cast<size_t>(m) * k);
  for (auto& v : x) v = float_to_bf16(mag(rng) * std::exp2(mag(rng)));
  const auto scale_count = quant_scale_elements(m, k, group, layout);
  std::vector<std::uint8_t> q_ref(x.size());
  std::vector<float> s_ref(scale_count, 0.0f);
  quantize_fp8_per_token_group_reference(x.data(), q_ref.data(), s_ref.data(), m, k, group, layout);

  DeviceBuffer dx(x.size() * 2), dq(x.size()), ds(scale_count * 4);
  dx.upload(x);
  dq.fill_bytes(0x7f);   // poison: E4M3 NaN
  ds.fill_bytes(0xff);   // poison: float NaN
  quantize_fp8_per_token_group({.x = dx.ptr(), .q = dq.ptr(), .scales = ds.ptr(), .m = m, .k = k,
                                .group_size = group, .layout = layout});
  const auto q = dq.download<std::uint8_t>(x.size());
  const auto s = ds.download<float>(scale_count);
  size_t q_mismatch = 0;
  for (size_t i = 0; i < q.size(); ++i) q_mismatch += q[i] != q_ref[i];
  EXPECT_EQ(q_mismatch, 0u) << m << "x" << k << " g" << group;
  for (int row = 0; row < m; ++row)
    for (int g = 0; g < k / group; ++g) {
      const size_t idx = layout == ScaleLayout::row_major ? row * (k / group) + g
                                                          : g * ((m + 3) / 4 * 4) + row;
      ASSERT_EQ(std::memcmp(&s[idx], &s_ref[idx], 4), 0) << "scale " << row << "," << g;
    }
}

}  // namespace

TEST(QuantGpu, MatchesTheReferenceBitForBitRowMajor) {
  SHAPEJIT_REQUIRE_GPU();
  for (int m : {1, 7, 128, 1000}) check_against_reference(m, 7168, 128, ScaleLayout::row_major);
  check_against_reference(33, 512, 64, ScaleLayout::row_major);
  check_against_reference(5, 1536, 32, ScaleLayout::row_major);
}

TEST(QuantGpu, MatchesTheReferenceBitForBitMMajor) {
  SHAPEJIT_REQUIRE_GPU();
  for (int m : {1, 5, 130}) check_against_reference(m, 2048, 128, ScaleLayout::m_major);
}

TEST(RuntimeGpu, LoadsOnceAndReportsDeviceFacts) {
  SHAPEJIT_REQUIRE_GPU();
  const DeviceInfo& d = current_device();
  EXPECT_GT(d.num_sms, 0);
  EXPECT_FALSE(d.arch.empty());
  const auto spec = quant_fp8_spec(7168, 128, d.arch);
  const LoadedKernel& a = Runtime::global().load(spec);
  const LoadedKernel& b = Runtime::global().load(spec);
  EXPECT_EQ(&a, &b);
  EXPECT_NE(a.function, nullptr);
}
