#include "gemm_reference.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "shapejit/runtime/host_numerics.hpp"

namespace shapejit::gemm_test {
namespace {

const float* e4m3_table() {
  static float table[256];
  static bool init = [] {
    for (int i = 0; i < 256; ++i) table[i] = runtime::e4m3_to_float(static_cast<std::uint8_t>(i));
    return true;
  }();
  (void)init;
  return table;
}

template <typename F>
void parallel_rows(std::size_t count, F&& f) {
  const unsigned threads = std::max(1u, std::min(32u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (std::size_t i = t; i < count; i += threads) f(i);
    });
  for (auto& th : pool) th.join();
}

}  // namespace

Fp8Matrix random_fp8(int rows, int cols, std::mt19937_64& rng) {
  Fp8Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.q.resize(static_cast<std::size_t>(rows) * cols);
  std::size_t i = 0;
  while (i < m.q.size()) {
    std::uint64_t bits = rng();
    for (int b = 0; b < 8 && i < m.q.size(); ++b, bits >>= 8) {
      std::uint8_t v = static_cast<std::uint8_t>(bits & 0xff);
      if ((v & 0x7f) == 0x7f) v ^= 1;   // 0x7f / 0xff are NaN in E4M3
      m.q[i++] = v;
    }
  }
  return m;
}

std::vector<float> random_scales(std::size_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(-6.0f, -2.0f);
  std::vector<float> s(count);
  for (auto& v : s) v = std::exp2(d(rng));
  return s;
}

std::vector<std::uint16_t> random_bf16(std::size_t count, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<std::uint16_t> v(count);
  for (auto& x : v) x = runtime::float_to_bf16(d(rng));
  return v;
}

std::vector<int> sample_rows(int m, int max_rows, std::mt19937_64& rng) {
  std::set<int> rows = {0, m - 1};
  const int blocks = (m + 63) / 64;
  const int step = std::max(1, blocks / std::max(1, max_rows - 2));
  for (int b = 0; b < blocks; b += step) {
    const int lo = b * 64, hi = std::min(m, lo + 64);
    rows.insert(lo + static_cast<int>(rng() % (hi - lo)));
  }
  return {rows.begin(), rows.end()};
}

std::vector<double> fp8_reference(const std::uint8_t* a, const float* a_scales,
                                  std::int64_t sa_stride, const std::uint8_t* b,
                                  const float* b_scales, const std::vector<int>& rows, int n,
                                  int k) {
  const float* lut = e4m3_table();
  const int kb_count = k / 128;
  std::vector<double> ref(rows.size() * n);
  parallel_rows(rows.size(), [&](std::size_t i) {
    const int r = rows[i];
    std::vector<float> arow(k);
    for (int x = 0; x < k; ++x) arow[x] = lut[a[static_cast<std::size_t>(r) * k + x]];
    for (int j = 0; j < n; ++j) {
      const std::uint8_t* brow = b + static_cast<std::size_t>(j) * k;
      double acc = 0.0;
      for (int kb = 0; kb < kb_count; ++kb) {
        double block = 0.0;
        for (int x = kb * 128; x < kb * 128 + 128; ++x)
          block += static_cast<double>(arow[x]) * lut[brow[x]];
        acc += block * a_scales[kb * sa_stride + r] *
               b_scales[static_cast<std::size_t>(j / 128) * kb_count + kb];
      }
      ref[i * n + j] = acc;
    }
  });
  return ref;
}

std::vector<double> bf16_reference(const std::uint16_t* a, const std::uint16_t* b,
                                   const std::vector<int>& rows, int n, int k) {
  std::vector<double> ref(rows.size() * n);
  std::vector<float> bf(static_cast<std::size_t>(n) * k);
  for (std::size_t i = 0; i < bf.size(); ++i) bf[i] = runtime::bf16_to_float(b[i]);
  parallel_rows(rows.size(), [&](std::size_t i) {
    std::vector<double> arow(k);
    for (int x = 0; x < k; ++x) arow[x] = runtime::bf16_to_float(a[static_cast<std::size_t>(rows[i]) * k + x]);
    for (int j = 0; j < n; ++j) {
      double acc = 0.0;
      const float* brow = bf.data() + static_cast<std::size_t>(j) * k;
      for (int x = 0; x < k; ++x) acc += arow[x] * brow[x];
      ref[i * n + j] = acc;
    }
  });
  return ref;
}

double calc_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double xy = 0.0, xx_yy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx_yy += x[i] * x[i] + y[i] * y[i];
  }
  if (xx_yy == 0.0) return 0.0;
  return 1.0 - 2.0 * xy / xx_yy;
}

}  // namespace shapejit::gemm_test
