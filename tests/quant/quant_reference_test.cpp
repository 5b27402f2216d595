#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shapejit/error.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/quant.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

TEST(QuantReference, DequantizedValuesStayWithinHalfAnE4M3StepOfTheInput) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> dist(0.0f, 3.0f);
  const int m = 7, k = 512, g = 128;
  std::vector<std::uint16_t> x(m * k);
  for (auto& v : x) v = float_to_bf16(dist(rng));
  std::vector<std::uint8_t> q(m * k);
  std::vector<float> s(quant_scale_elements(m, k, g, ScaleLayout::row_major));
  quantize_fp8_per_token_group_reference(x.data(), q.data(), s.data(), m, k, g, ScaleLayout::row_major);
  for (int row = 0; row < m; ++row)
    for (int i = 0; i < k; ++i) {
      const float scale = s[row * (k / g) + i / g];
      const float orig = bf16_to_float(x[row * k + i]);
      const float deq = e4m3_to_float(q[row * k + i]) * scale;
      // E4M3 has 3 mantissa bits: relative error <= 2^-4 for normals, plus the subnormal step.
      EXPECT_LE(std::fabs(deq - orig), std::fabs(orig) / 16 + scale * std::ldexp(1.0f, -9) + 1e-12f)
          << row << "," << i;
    }
  // The group maximum maps to ±448 exactly.
  for (int row = 0; row < m; ++row) {
    float amax = 0;
    for (int i = 0; i < g; ++i) amax = std::max(amax, std::fabs(bf16_to_float(x[row * k + i])));
    EXPECT_FLOAT_EQ(s[row * (k / g)], amax / 448.0f);
  }
}

TEST(QuantReference, MMajorLayoutPadsTheMStrideTo16Bytes) {
  EXPECT_EQ(quant_scale_elements(5, 256, 128, ScaleLayout::m_major), 2 * 8);
  EXPECT_EQ(quant_scale_elements(5, 256, 128, ScaleLayout::row_major), 10);
  std::vector<std::uint16_t> x(5 * 256, float_to_bf16(2.0f));
  std::vector<std::uint8_t> q(5 * 256);
  std::vector<float> s(16, -1.0f);
  quantize_fp8_per_token_group_reference(x.data(), q.data(), s.data(), 5, 256, 128, ScaleLayout::m_major);
  for (int g = 0; g < 2; ++g)
    for (int m = 0; m < 8; ++m) EXPECT_EQ(s[g * 8 + m], m < 5 ? 2.0f / 448.0f : -1.0f);
}

TEST(QuantValidation, NamesTheBadArgument) {
  auto message = [](QuantFp8Args a) {
    try {
      validate(a);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  QuantFp8Args a{.x = 0x1000, .q = 0x2000, .scales = 0x3000, .m = 4, .k = 7168};
  EXPECT_EQ(message(a), "accepted");
  auto b = a; b.k = 7000;
  EXPECT_NE(message(b).find("K = 7000 is not a multiple of group_size 128"), std::string::npos);
  b = a; b.group_size = 96;
  EXPECT_NE(message(b).find("group_size 96"), std::string::npos);
  b = a; b.x = 0x1008;
  EXPECT_NE(message(b).find("x must be 16-byte aligned"), std::string::npos);
  b = a; b.m = -1;
  EXPECT_NE(message(b).find("M >= 0"), std::string::npos);
}
