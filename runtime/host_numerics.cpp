#include "shapejit/runtime/host_numerics.hpp"

#include <cmath>
#include <cstring>

namespace shapejit::runtime {

float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::uint16_t float_to_bf16(float value) {
  std::uint32_t u;
  std::memcpy(&u, &value, 4);
  if (std::isnan(value)) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<std::uint16_t>(u >> 16);
}

float e4m3_to_float(std::uint8_t bits) {
  const int sign = bits >> 7, exp = (bits >> 3) & 0xf, man = bits & 0x7;
  if (exp == 0xf && man == 0x7) return NAN;
  const float mag = exp == 0 ? std::ldexp(static_cast<float>(man), -9)
                             : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return sign ? -mag : mag;
}

std::uint8_t float_to_e4m3(float value) {
  if (std::isnan(value)) return 0x7f;
  const std::uint8_t sign = std::signbit(value) ? 0x80 : 0;
  const double a = std::fabs(static_cast<double>(value));
  if (a >= 448.0) return sign | 0x7e;   // satfinite
  // Exhaustive nearest search over the 127 non-negative finite codes, ties to even mantissa.
  std::uint8_t best = 0;
  double best_err = INFINITY;
  for (int code = 0; code <= 0x7e; ++code) {
    const double err = std::fabs(static_cast<double>(e4m3_to_float(static_cast<std::uint8_t>(code))) - a);
    if (err < best_err || (err == best_err && (code & 1) == 0)) {
      best = static_cast<std::uint8_t>(code);
      best_err = err;
    }
  }
  return sign | best;
}

}  // namespace shapejit::runtime
