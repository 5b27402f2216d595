// The FP32 CPU reference itself: known answers on tiny inputs (so the GPU check is anchored).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {
namespace {

TEST(MlaReference, SingleKeyGivesItsValueAndLogit) {
  const MlaConfig c{16, 1, 16, MlaKvDtype::bf16};
  std::vector<std::uint16_t> q(16 * 576, float_to_bf16(0.5f));
  std::vector<std::uint8_t> cache(2 * 16 * 1152, 0xff);   // NaN everywhere but the used row
  std::vector<std::uint16_t> row(576);
  for (int d = 0; d < 576; ++d) row[d] = float_to_bf16(d % 2 ? 0.25f : -0.125f);
  std::memcpy(cache.data() + (1 * 16 + 0) * 1152, row.data(), 1152);
  const std::vector<std::int32_t> table{1}, lens{1};
  std::vector<float> out(16 * 512, -1.0f), lse(16, 0.0f);
  mla_decode_reference(c, 1, 1, 0.0f, q, cache, table, lens, out, lse);
  const float logit = 0.5f * (288 * 0.25f - 288 * 0.125f) / std::sqrt(576.0f);
  for (int h = 0; h < 16; ++h) {
    EXPECT_FLOAT_EQ(lse[h], logit);
    for (int d = 0; d < 512; ++d) EXPECT_FLOAT_EQ(out[h * 512 + d], d % 2 ? 0.25f : -0.125f);
  }
}

TEST(MlaReference, CausalRowsWithoutKeysGiveZeroAndInfinity) {
  // s_q = 4, seqlen 2: query i sees 2 - 4 + 1 + i keys, so queries 0 and 1 see none.
  const MlaConfig c{16, 4, 16, MlaKvDtype::fp8_e4m3};
  std::vector<std::uint16_t> q(4 * 16 * 576, float_to_bf16(0.1f));
  std::vector<std::uint8_t> cache(16 * 656, 0);
  for (int t = 0; t < 2; ++t) {
    std::uint8_t* r = cache.data() + t * 656;
    for (int d = 0; d < 512; ++d) r[d] = float_to_e4m3(t ? 2.0f : 1.0f);
    const float s[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    std::memcpy(r + 512, s, 16);
  }
  const std::vector<std::int32_t> table{0}, lens{2};
  std::vector<float> out(4 * 16 * 512, -1.0f), lse(16 * 4, 0.0f);
  mla_decode_reference(c, 1, 1, 0.0f, q, cache, table, lens, out, lse);
  for (int h = 0; h < 16; ++h) {
    EXPECT_EQ(lse[h * 4 + 0], std::numeric_limits<float>::infinity());
    EXPECT_EQ(lse[h * 4 + 1], std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isfinite(lse[h * 4 + 2]));
    EXPECT_EQ(out[(0 * 16 + h) * 512], 0.0f);
    EXPECT_FLOAT_EQ(out[(2 * 16 + h) * 512], 0.5f);                // one key: value 1 · 0.5
  }
}

}  // namespace
}  // namespace shapejit::runtime
