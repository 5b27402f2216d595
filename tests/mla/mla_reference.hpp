#pragma once
// FP32 CPU reference for MLA decode over a paged KV cache, computed per request over the pages
// its block table names. Also: BF16/E4M3 encode/decode and the random test-case builder shared
// by the GPU tests and the device check program.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <limits>
#include <random>
#include <thread>
#include <vector>

namespace shapejit::mla_test {

constexpr int kHeadDim = 576;
constexpr int kValueDim = 512;
constexpr int kFp8TokenBytes = 656;

inline float bf16_to_float(std::uint16_t v) {
  std::uint32_t u = static_cast<std::uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline std::uint16_t float_to_bf16(float f) {   // round to nearest even; NaN stays NaN
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float round_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

inline float e4m3_to_float(std::uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 15, man = b & 7;
  if (exp == 15 && man == 7) return std::numeric_limits<float>::quiet_NaN();
  float v = exp == 0 ? std::ldexp(static_cast<float>(man), -9)
                     : std::ldexp(1.f + man / 8.f, exp - 7);
  return sign ? -v : v;
}
// Nearest E4M3 value (ties to even), saturating at +-448.
inline std::uint8_t float_to_e4m3(float f) {
  const std::uint8_t sign = std::signbit(f) ? 0x80 : 0;
  const float a = std::fabs(f);
  if (!(a < 448.f)) return sign | 0x7e;
  if (a < std::ldexp(1.f, -6)) {   // subnormal, step 2^-9
    const int m = static_cast<int>(std::nearbyint(a * 512.f));
    return static_cast<std::uint8_t>(sign | m);   // m == 8 is the smallest normal's encoding
  }
  int e;
  std::frexp(a, &e);
  int E = e - 1;
  int m = static_cast<int>(std::nearbyint((a / std::ldexp(1.f, E) - 1.f) * 8.f));
  if (m == 8) m = 0, ++E;
  if (E + 7 > 15 || (E + 7 == 15 && m == 7)) return sign | 0x7e;
  return static_cast<std::uint8_t>(sign | ((E + 7) << 3) | m);
}

struct Case {
  int batch = 1, s_q = 1, h_q = 16, page_size = 64;
  bool fp8 = false;
  int max_blocks = 0, num_blocks = 0;
  float softmax_scale = 1.f / std::sqrt(576.f);
  std::vector<int> seqlens;
  std::vector<int> block_table;                 // [batch, max_blocks]
  std::vector<std::uint16_t> q;                 // [batch, s_q, h_q, 576]
  std::vector<std::uint8_t> cache;              // [num_blocks, page, token bytes]
  int token_bytes() const { return fp8 ? kFp8TokenBytes : kHeadDim * 2; }
  int rows() const { return s_q * h_q; }
};

// Random case: Q and K ~ N(0,1) in BF16 (or E4M3 with per-128 scales), every cache slot that no
// request uses filled with NaN, pages handed out in a random permutation, unused block-table
// entries set to a huge index.
inline Case make_case(int batch, int s_q, int h_q, int page_size, bool fp8,
                      const std::vector<int>& seqlens, std::uint64_t seed) {
  Case c;
  c.batch = batch, c.s_q = s_q, c.h_q = h_q, c.page_size = page_size, c.fp8 = fp8;
  c.seqlens = seqlens;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  int max_len = 1;
  for (int l : seqlens) max_len = std::max(max_len, l);
  c.max_blocks = (max_len + page_size - 1) / page_size + 1;
  int used = 0;
  for (int l : seqlens) used += (l + page_size - 1) / page_size;
  c.num_blocks = used + 3;                            // some pages nobody owns
  std::vector<int> perm(c.num_blocks);
  for (int i = 0; i < c.num_blocks; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  c.block_table.assign(static_cast<size_t>(batch) * c.max_blocks, 0x3fffffff);
  int next = 0;
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < (seqlens[b] + page_size - 1) / page_size; ++j)
      c.block_table[static_cast<size_t>(b) * c.max_blocks + j] = perm[next++];

  c.q.resize(static_cast<size_t>(batch) * s_q * h_q * kHeadDim);
  for (auto& v : c.q) v = float_to_bf16(normal(rng));

  const int tb = c.token_bytes();
  c.cache.assign(static_cast<size_t>(c.num_blocks) * page_size * tb, 0);
  // NaN everywhere first (BF16 0x7fc0, E4M3 0x7f, scales NaN)
  for (size_t t = 0; t < static_cast<size_t>(c.num_blocks) * page_size; ++t) {
    std::uint8_t* p = c.cache.data() + t * tb;
    if (!fp8) {
      for (int d = 0; d < kHeadDim; ++d) { p[2 * d] = 0xc0; p[2 * d + 1] = 0x7f; }
    } else {
      std::memset(p, 0x7f, 512);
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (int g = 0; g < 4; ++g) std::memcpy(p + 512 + 4 * g, &nan, 4);
      for (int d = 0; d < 64; ++d) { p[528 + 2 * d] = 0xc0; p[528 + 2 * d + 1] = 0x7f; }
    }
  }
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < seqlens[b]; ++t) {
      const int page = c.block_table[static_cast<size_t>(b) * c.max_blocks + t / page_size];
      std::uint8_t* p = c.cache.data() + (static_cast<size_t>(page) * page_size + t % page_size) * tb;
      float row[kHeadDim];
      for (auto& v : row) v = normal(rng);
      if (!fp8) {
        for (int d = 0; d < kHeadDim; ++d) {
          const std::uint16_t h = float_to_bf16(row[d]);
          std::memcpy(p + 2 * d, &h, 2);
        }
      } else {
        for (int g = 0; g < 4; ++g) {
          float amax = 1e-6f;
          for (int d = 0; d < 128; ++d) amax = std::max(amax, std::fabs(row[g * 128 + d]));
          const float scale = amax / 448.f;
          std::memcpy(p + 512 + 4 * g, &scale, 4);
          for (int d = 0; d < 128; ++d) p[g * 128 + d] = float_to_e4m3(row[g * 128 + d] / scale);
        }
        for (int d = 0; d < 64; ++d) {
          const std::uint16_t h = float_to_bf16(row[512 + d]);
          std::memcpy(p + 528 + 2 * d, &h, 2);
        }
      }
    }
  return c;
}

// The K row of token t of request b as the kernel sees it: BF16, or bf16(e4m3 * scale).
inline void gather_key(const Case& c, int b, int t, float* out) {
  const int page = c.block_table[static_cast<size_t>(b) * c.max_blocks + t / c.page_size];
  const std::uint8_t* p =
      c.cache.data() + (static_cast<size_t>(page) * c.page_size + t % c.page_size) * c.token_bytes();
  if (!c.fp8) {
    for (int d = 0; d < kHeadDim; ++d) {
      std::uint16_t h;
      std::memcpy(&h, p + 2 * d, 2);
      out[d] = bf16_to_float(h);
    }
  } else {
    for (int d = 0; d < 512; ++d) {
      float s;
      std::memcpy(&s, p + 512 + 4 * (d / 128), 4);
      out[d] = round_bf16(e4m3_to_float(p[d]) * s);
    }
    for (int d = 0; d < 64; ++d) {
      std::uint16_t h;
      std::memcpy(&h, p + 528 + 2 * d, 2);
      out[512 + d] = bf16_to_float(h);
    }
  }
}

// out [batch, s_q, h_q, 512] and lse [batch, h_q, s_q], accumulated in double, stored FP32.
// Requests [b_begin, b_end) only, into outputs already sized for the whole batch (so threads
// can share the work).
inline void reference_range(const Case& c, int b_begin, int b_end, std::vector<float>& out,
                            std::vector<float>& lse) {
  const int R = c.rows();
  std::vector<float> keys, qrow(kHeadDim);
  std::vector<double> logits, acc(kValueDim);
  for (int b = b_begin; b < b_end; ++b) {
    const int L = c.seqlens[b];
    keys.resize(static_cast<size_t>(L) * kHeadDim);
    for (int t = 0; t < L; ++t) gather_key(c, b, t, keys.data() + static_cast<size_t>(t) * kHeadDim);
    for (int r = 0; r < R; ++r) {
      const int s = r / c.h_q, h = r % c.h_q;
      const int visible = std::max(0, std::min(L, L - c.s_q + 1 + s));
      float* o = out.data() + (static_cast<size_t>(b) * R + r) * kValueDim;
      float& l = lse[(static_cast<size_t>(b) * c.h_q + h) * c.s_q + s];
      if (visible == 0) {
        l = std::numeric_limits<float>::infinity();
        continue;
      }
      for (int d = 0; d < kHeadDim; ++d)
        qrow[d] = bf16_to_float(c.q[(static_cast<size_t>(b) * R + r) * kHeadDim + d]);
      logits.resize(visible);
      double mx = -1e300;
      for (int t = 0; t < visible; ++t) {
        const float* k = keys.data() + static_cast<size_t>(t) * kHeadDim;
        double dot = 0;
        for (int d = 0; d < kHeadDim; ++d) dot += static_cast<double>(qrow[d]) * k[d];
        logits[t] = dot * c.softmax_scale;
        mx = std::max(mx, logits[t]);
      }
      double sum = 0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int t = 0; t < visible; ++t) {
        const double p = std::exp(logits[t] - mx);
        sum += p;
        const float* k = keys.data() + static_cast<size_t>(t) * kHeadDim;
        for (int d = 0; d < kValueDim; ++d) acc[d] += p * k[d];
      }
      for (int d = 0; d < kValueDim; ++d) o[d] = static_cast<float>(acc[d] / sum);
      l = static_cast<float>(mx + std::log(sum));
    }
  }
}

inline void reference(const Case& c, std::vector<float>& out, std::vector<float>& lse,
                      int threads = 1) {
  out.assign(static_cast<size_t>(c.batch) * c.rows() * kValueDim, 0.f);
  lse.assign(static_cast<size_t>(c.batch) * c.h_q * c.s_q, 0.f);
  if (threads <= 1 || c.batch == 1) return reference_range(c, 0, c.batch, out, lse);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int b = t; b < c.batch; b += threads) reference_range(c, b, b + 1, out, lse);
    });
  for (auto& th : pool) th.join();
}

// RMS of the value rows (first 512 dims) of request b's tokens: the scale of what P multiplies.
inline double value_rms(const Case& c, int b) {
  std::vector<float> k(kHeadDim);
  double s = 0;
  const int L = c.seqlens[b];
  for (int t = 0; t < L; ++t) {
    gather_key(c, b, t, k.data());
    for (int d = 0; d < kValueDim; ++d) s += double(k[d]) * k[d];
  }
  return L ? std::sqrt(s / (double(L) * kValueDim)) : 0.0;
}

}  // namespace shapejit::mla_test
