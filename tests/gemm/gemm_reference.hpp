#pragma once
// Host side of the GEMM GPU tests: random FP8/BF16 operands and a high-precision reference on
// the dequantized values, computed for a sample of rows (all columns) to keep big shapes cheap.
#include <cstdint>
#include <random>
#include <vector>

namespace shapejit::gemm_test {

struct Fp8Matrix {
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> q;      // E4M3 bits [rows, cols]
};

// Random finite E4M3 values (every exponent, both signs, never NaN).
Fp8Matrix random_fp8(int rows, int cols, std::mt19937_64& rng);
// Random positive scales in [2^-6, 2^-2).
std::vector<float> random_scales(std::size_t count, std::mt19937_64& rng);
std::vector<std::uint16_t> random_bf16(std::size_t count, std::mt19937_64& rng);

// Rows to check: the first and last, one random row in every 64-row block (at most max_rows
// in all, evenly spread), ascending.
std::vector<int> sample_rows(int m, int max_rows, std::mt19937_64& rng);

// ref[i * n + j] for row rows[i]: Σ_kb sa[kb*sa_stride + a_row] · sb[(b_row0 + j)/128 ... ]
// a: FP8 [*, k] with a_scales M-major; b: FP8 [n, k] (rows b_row0..) with b_scales row-major
// [ceil(n/128)][k/128] starting at b_scales.
std::vector<double> fp8_reference(const std::uint8_t* a, const float* a_scales,
                                  std::int64_t sa_stride, const std::uint8_t* b,
                                  const float* b_scales, const std::vector<int>& rows, int n,
                                  int k);
std::vector<double> bf16_reference(const std::uint16_t* a, const std::uint16_t* b,
                                   const std::vector<int>& rows, int n, int k);

// 1 − 2Σxy / Σ(x² + y²) in float64 (NaN in y gives NaN).
double calc_diff(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace shapejit::gemm_test
