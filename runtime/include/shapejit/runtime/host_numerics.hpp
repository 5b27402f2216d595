#pragma once
// Host conversions between FP32 and the kernels' storage formats (BF16, FP8 E4M3), matching
// the device's round-to-nearest-even; used by references, tests and benchmarks.
#include <cstdint>

namespace shapejit::runtime {

float bf16_to_float(std::uint16_t bits);
std::uint16_t float_to_bf16(float value);           // RNE; NaN stays NaN
float e4m3_to_float(std::uint8_t bits);
std::uint8_t float_to_e4m3(float value);            // RNE, saturating to ±448 (satfinite)

}  // namespace shapejit::runtime
