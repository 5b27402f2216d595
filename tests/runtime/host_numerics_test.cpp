#include <gtest/gtest.h>

#include <cmath>

#include "shapejit/runtime/host_numerics.hpp"

using namespace shapejit::runtime;

TEST(HostNumerics, E4M3CodesRoundTripAndSaturate) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7f) == 0x7f) continue;   // NaN codes
    const float v = e4m3_to_float(static_cast<std::uint8_t>(code));
    if (code == 0x80) continue;            // -0 encodes back to +0 or -0; both are zero
    EXPECT_EQ(float_to_e4m3(v), code) << code << " " << v;
  }
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(float_to_e4m3(1e6f), 0x7e);
  EXPECT_EQ(float_to_e4m3(-1e6f), 0xfe);
  EXPECT_EQ(e4m3_to_float(0x01), std::ldexp(1.0f, -9));   // smallest subnormal
}

TEST(HostNumerics, E4M3RoundsToNearestEven) {
  // 1.0 = 0x38, next is 1.125 = 0x39; 1.0625 is the midpoint: ties to the even code 0x38.
  EXPECT_EQ(float_to_e4m3(1.0625f), 0x38);
  EXPECT_EQ(float_to_e4m3(1.07f), 0x39);
  // 1.1875 is the midpoint of 1.125 (0x39) and 1.25 (0x3a): ties to 0x3a.
  EXPECT_EQ(float_to_e4m3(1.1875f), 0x3a);
}

TEST(HostNumerics, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(NAN))));
}
