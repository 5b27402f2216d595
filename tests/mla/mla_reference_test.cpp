// The FP32 CPU reference itself: known answers on tiny inputs (so the GPU check is anchored),
// and the out tolerance of the GPU test (derived in tests/mla/mla_gpu_test.cpp) checked against
// a plain C++ emulation of the kernel's arithmetic: it must hold for every element, and a
// result one step less accurate than the kernel's must break it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
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

// ---------------------------------------------------------------------------------------------
// Emulation of the split and combine kernels' arithmetic (templates/mla/decode_split.cuh,
// decode_combine.cuh), one query row at a time: logits as FP32 results of k16 steps, steps of 64
// keys with a running maximum in the log2 domain, P = exp2(x − m) in FP32 and rounded to BF16
// before PV, l summed from the unrounded p, O and l rescaled by exp2(m_old − m_new), PV as k16
// steps into FP32, out = bf16(O / l); a request split at 64-key boundaries writes FP32 partials
// and their lse, merged as the combine kernel does. Tensor-core steps are emulated as an exact sum
// truncated to FP32 (the rounding the tolerance's model allows for), the rest in IEEE FP32.

// How far the emulated kernel departs from the real one, to show the tolerance can fail.
struct Variant {
  int p_bits = 8;           // significant bits P is rounded to before PV (8: BF16)
  double out_scale = 1.0;   // multiplies the FP32 result before its BF16 rounding
};

// x rounded to `bits` significant bits, to nearest even; 8 bits = BF16 (the project's helper).
float round_significand(float x, int bits) {
  if (bits == 8) return bf16_to_float(float_to_bf16(x));
  if (x == 0.0f || !std::isfinite(x)) return x;
  int e = 0;
  std::frexp(x, &e);
  return std::ldexp(std::nearbyint(std::ldexp(x, bits - e)), e - bits);
}

// A tensor-core k16 step's result: the exact sum, truncated (toward zero) to FP32.
float truncate_to_float(double x) {
  float f = static_cast<float>(x);
  if (std::fabs(static_cast<double>(f)) > std::fabs(x)) f = std::nextafter(f, 0.0f);
  return f;
}

struct EmulatedRow {
  std::array<float, kMlaValueDim> out{};
  float lse = 0.0f;
};

// Row with query q over keys[0, visible) of a request of len keys (576 floats per key, the
// BF16 values the kernel's MMAs read), the request cut into `splits` runs of 64-key blocks.
EmulatedRow emulate_row(const float* q, const float* keys, int len, int visible, int splits,
                        float softmax_scale, const Variant& var) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const float scale_log2 = softmax_scale * 1.4426950408889634f;   // as runtime/mla.cpp
  const int blocks = (len + 63) / 64;
  splits = std::max(1, std::min(splits, blocks));
  struct Partial {
    std::array<float, kMlaValueDim> y{};
    float lse = kNegInf;
  };
  std::vector<Partial> parts(splits);
  std::array<float, 64> x{}, p{};
  for (int sp = 0; sp < splits; ++sp) {
    const int b0 = blocks * sp / splits, b1 = blocks * (sp + 1) / splits;
    float m = kNegInf, l = 0.0f;
    std::array<float, kMlaValueDim> o{};
    for (int b = b0; b < b1; ++b) {
      const int t0 = 64 * b;
      float mx = kNegInf;
      for (int j = 0; j < 64; ++j) {
        const int t = t0 + j;
        if (t >= len || t >= visible) {
          x[j] = kNegInf;
          continue;
        }
        const float* k = keys + static_cast<std::size_t>(t) * kMlaHeadDim;
        float acc = 0.0f;
        for (int kb = 0; kb < kMlaHeadDim; kb += 16) {
          double sum = acc;
          for (int d = kb; d < kb + 16; ++d) sum += static_cast<double>(q[d]) * k[d];
          acc = truncate_to_float(sum);
        }
        x[j] = acc * scale_log2;
        mx = std::max(mx, x[j]);
      }
      const float m_new = std::max(m, mx);
      const float base = m_new == kNegInf ? 0.0f : m_new;
      const float corr = std::exp2(m - base);
      m = m_new;
      l *= corr;
      for (int j = 0; j < 64; j += 2) {
        const float p0 = std::exp2(x[j] - base), p1 = std::exp2(x[j + 1] - base);
        l += p0 + p1;   // unrounded p
        p[j] = round_significand(p0, var.p_bits);
        p[j + 1] = round_significand(p1, var.p_bits);
      }
      for (float& v : o) v *= corr;
      const float* v = keys + static_cast<std::size_t>(t0) * kMlaHeadDim;   // V of the step
      for (int kb = 0; kb < 64; kb += 16)
        for (int d = 0; d < kMlaValueDim; ++d) {
          double sum = o[d];
          for (int j = kb; j < kb + 16; ++j)   // masked keys (p = 0) may lie past the request
            if (p[j] != 0.0f) sum += static_cast<double>(p[j]) * v[j * kMlaHeadDim + d];
          o[d] = truncate_to_float(sum);
        }
    }
    if (l > 0.0f) {
      const float inv = 1.0f / l;
      for (int d = 0; d < kMlaValueDim; ++d) parts[sp].y[d] = o[d] * inv;
      parts[sp].lse = (m + std::log2(l)) * 0.69314718055994531f;
    }
  }
  EmulatedRow row;
  const auto finish = [&](float y) {
    return bf16_to_float(float_to_bf16(static_cast<float>(y * var.out_scale)));
  };
  if (splits == 1) {
    for (int d = 0; d < kMlaValueDim; ++d) row.out[d] = finish(parts[0].y[d]);
    row.lse = parts[0].lse == kNegInf ? std::numeric_limits<float>::infinity() : parts[0].lse;
    return row;
  }
  float lmax = kNegInf;
  for (const Partial& pt : parts) lmax = std::max(lmax, pt.lse);
  if (lmax == kNegInf) {
    row.lse = std::numeric_limits<float>::infinity();
    return row;
  }
  std::array<float, kMlaValueDim> acc{};
  float wsum = 0.0f;
  for (const Partial& pt : parts) {
    const float w = std::exp2((pt.lse - lmax) * 1.4426950408889634f);
    wsum += w;
    for (int d = 0; d < kMlaValueDim; ++d) acc[d] += w * pt.y[d];
  }
  const float inv = 1.0f / wsum;
  for (int d = 0; d < kMlaValueDim; ++d) row.out[d] = finish(acc[d] * inv);
  row.lse = lmax + std::log2(wsum) * 0.69314718055994531f;
  return row;
}

struct EmuCase {
  int batch, s_q, s_k;
  MlaKvDtype dtype;
  float q_sigma;   // larger: sharper softmax
};

std::string name_of(const EmuCase& c) {
  return "batch " + std::to_string(c.batch) + " s_q " + std::to_string(c.s_q) + " s_k " +
         std::to_string(c.s_k) + (c.dtype == MlaKvDtype::bf16 ? " bf16" : " fp8") + " q_sigma " +
         std::to_string(c.q_sigma).substr(0, 4);
}

// One case's inputs in the device layouts (page 64, permuted pages, NaN in unused slots), the
// key values as the kernel reads them, and the reference's out, lse, A and R.
struct EmuProblem {
  MlaConfig config;
  int max_blocks = 0;
  std::vector<std::int32_t> lens, table;
  std::vector<std::uint16_t> q;
  std::vector<std::uint8_t> cache;
  std::vector<std::vector<float>> keys;   // per request, len × 576
  std::vector<float> out, lse, abs_out, max_abs_logit;
};

EmuProblem make_emu_problem(const EmuCase& cs, std::mt19937& rng) {
  constexpr int kHeads = 16, kPage = 64;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(0.0f, 1.0f);
  EmuProblem p;
  p.config = MlaConfig{kHeads, cs.s_q, kPage, cs.dtype};
  // Lengths in [s_k − s_k/8, s_k], as a rule not multiples of 32.
  for (int b = 0; b < cs.batch; ++b)
    p.lens.push_back(std::max(1, cs.s_k - static_cast<int>(rng() % (cs.s_k / 8 + 1))));
  int pages = 0;
  for (int len : p.lens) {
    p.max_blocks = std::max(p.max_blocks, (len + kPage - 1) / kPage);
    pages += (len + kPage - 1) / kPage;
  }
  const int num_blocks = pages + 1;
  std::vector<int> perm(num_blocks);
  for (int i = 0; i < num_blocks; ++i) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  p.table.assign(static_cast<std::size_t>(cs.batch) * p.max_blocks, 0);
  const std::size_t row_bytes = static_cast<std::size_t>(mla_kv_row_bytes(cs.dtype));
  p.cache.assign(static_cast<std::size_t>(num_blocks) * kPage * row_bytes, 0xff);   // NaN
  int next = 0;
  for (int b = 0; b < cs.batch; ++b) {
    const int len = p.lens[b];
    for (int j = 0; j < (len + kPage - 1) / kPage; ++j)
      p.table[static_cast<std::size_t>(b) * p.max_blocks + j] = perm[next++];
    std::vector<float>& keys = p.keys.emplace_back(static_cast<std::size_t>(len) * kMlaHeadDim);
    for (int t = 0; t < len; ++t) {
      const int page = p.table[static_cast<std::size_t>(b) * p.max_blocks + t / kPage];
      std::uint8_t* row =
          p.cache.data() + (static_cast<std::size_t>(page) * kPage + t % kPage) * row_bytes;
      float* k = keys.data() + static_cast<std::size_t>(t) * kMlaHeadDim;
      if (cs.dtype == MlaKvDtype::bf16) {
        for (int d = 0; d < kMlaHeadDim; ++d) {
          const std::uint16_t v = float_to_bf16(normal(rng));
          std::memcpy(row + 2 * d, &v, 2);
          k[d] = bf16_to_float(v);
        }
      } else {
        float scales[4];
        for (float& sc : scales) sc = 0.002f + 0.008f * uni(rng);
        std::memcpy(row + 512, scales, sizeof(scales));
        for (int d = 0; d < kMlaValueDim; ++d) {
          row[d] = float_to_e4m3(150.0f * normal(rng));   // saturates at ±448
          k[d] = bf16_to_float(float_to_bf16(e4m3_to_float(row[d]) * scales[d / 128]));
        }
        for (int d = kMlaValueDim; d < kMlaHeadDim; ++d) {
          const std::uint16_t v = float_to_bf16(normal(rng));
          std::memcpy(row + 528 + 2 * (d - kMlaValueDim), &v, 2);
          k[d] = bf16_to_float(v);
        }
      }
    }
  }
  p.q.resize(static_cast<std::size_t>(cs.batch) * cs.s_q * kHeads * kMlaHeadDim);
  for (auto& v : p.q) v = float_to_bf16(cs.q_sigma * normal(rng));
  const std::size_t rows = static_cast<std::size_t>(cs.batch) * cs.s_q * kHeads;
  p.out.resize(rows * kMlaValueDim);
  p.abs_out.resize(rows * kMlaValueDim);
  p.lse.resize(rows);
  p.max_abs_logit.resize(rows);
  mla_decode_reference(p.config, cs.batch, p.max_blocks, 0.0f, p.q, p.cache, p.table, p.lens,
                       p.out, p.lse, p.abs_out, p.max_abs_logit);
  return p;
}

struct EmuStats {
  long long elements = 0, violations = 0;
  double worst_ratio = 0.0;    // max |emulated − ref| / tolerance
  double worst_lse = 0.0;      // max |Δlse| / max(1, |lse|)
  double worst_lse_eta = 0.0;  // max |Δlse| / (η + 2^-22·(1 + |lse|))
  float max_r = 0.0f;
};

// Emulates every row of p with `splits` parts and compares with the reference.
EmuStats compare(const EmuProblem& p, int splits, const Variant& var) {
  const int h = p.config.num_heads_q, sq = p.config.seq_q;
  const float scale = 1.0f / std::sqrt(576.0f);
  std::vector<float> qrow(kMlaHeadDim);
  EmuStats st;
  for (std::size_t b = 0; b < p.lens.size(); ++b) {
    const int len = p.lens[b];
    for (int i = 0; i < sq; ++i) {
      const int visible = std::min(len, std::max(0, len - sq + 1 + i));
      for (int hh = 0; hh < h; ++hh) {
        const std::size_t r = (b * sq + i) * h + hh, l_index = (b * h + hh) * sq + i;
        for (int d = 0; d < kMlaHeadDim; ++d) qrow[d] = bf16_to_float(p.q[r * kMlaHeadDim + d]);
        const EmulatedRow e =
            emulate_row(qrow.data(), p.keys[b].data(), len, visible, splits, scale, var);
        const float R = p.max_abs_logit[l_index];
        st.max_r = std::max(st.max_r, R);
        for (int d = 0; d < kMlaValueDim; ++d) {
          const std::size_t k = r * kMlaValueDim + d;
          const double tol = mla_out_tolerance(p.out[k], p.abs_out[k], R, visible);
          const double err = std::fabs(static_cast<double>(e.out[d]) - p.out[k]);
          ++st.elements;
          if (!(err <= tol)) ++st.violations;
          st.worst_ratio = std::max(st.worst_ratio, err / tol);
        }
        const float ref_lse = p.lse[l_index];
        if (std::isinf(ref_lse)) {
          if (e.lse != ref_lse) ++st.violations;
          continue;
        }
        const double dl = std::fabs(static_cast<double>(e.lse) - ref_lse);
        const double abs_lse = std::fabs(static_cast<double>(ref_lse));
        st.worst_lse = std::max(st.worst_lse, dl / std::max(1.0, abs_lse));
        const double eta = mla_logit_error_bound(R, visible) + std::ldexp(1.0 + abs_lse, -22);
        st.worst_lse_eta = std::max(st.worst_lse_eta, dl / eta);
      }
    }
  }
  return st;
}

unsigned fresh_seed() { return std::random_device{}(); }

const EmuCase kEmuCases[] = {
    {2, 1, 1, MlaKvDtype::bf16, 1.0f},     {2, 1, 20, MlaKvDtype::bf16, 1.0f},
    {2, 2, 33, MlaKvDtype::fp8_e4m3, 1.0f}, {1, 4, 100, MlaKvDtype::bf16, 1.0f},
    {2, 2, 140, MlaKvDtype::fp8_e4m3, 1.0f}, {1, 1, 257, MlaKvDtype::bf16, 3.0f},
    {1, 4, 700, MlaKvDtype::bf16, 1.0f},   {1, 2, 1000, MlaKvDtype::fp8_e4m3, 1.0f},
    {1, 1, 4096, MlaKvDtype::bf16, 1.0f},  {1, 2, 4096, MlaKvDtype::fp8_e4m3, 2.0f},
};

// Every element of the emulated kernel, with one split or a request split in 2 or 3 parts, is
// within the tolerance of the reference; lse within 1e-5 relative and within its bound η.
TEST(MlaReference, EmulatedKernelArithmeticIsWithinTheOutTolerance) {
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  double worst = 0.0, worst_lse = 0.0;
  std::string worst_case;
  for (const EmuCase& cs : kEmuCases) {
    const EmuProblem p = make_emu_problem(cs, rng);
    for (int splits = 1; splits <= 3; ++splits) {
      SCOPED_TRACE(name_of(cs) + ", splits " + std::to_string(splits));
      const EmuStats st = compare(p, splits, Variant{});
      std::cout << "  " << name_of(cs) << ", splits " << splits << ": max err/tol "
                << st.worst_ratio << ", max lse err (rel) " << st.worst_lse << ", lse err / η "
                << st.worst_lse_eta << ", R ≤ " << st.max_r << "\n";
      EXPECT_EQ(st.violations, 0) << "of " << st.elements << " elements";
      EXPECT_LE(st.worst_lse, 1e-5);
      EXPECT_LE(st.worst_lse_eta, 1.0);
      if (st.worst_ratio > worst) {
        worst = st.worst_ratio;
        worst_case = name_of(cs) + ", splits " + std::to_string(splits);
      }
      worst_lse = std::max(worst_lse, st.worst_lse);
    }
  }
  std::cout << "  max err/tol " << worst << " (" << worst_case << "), max lse err (rel) "
            << worst_lse << "\n";
  RecordProperty("max_err_over_tolerance", std::to_string(worst));
  RecordProperty("max_lse_relative_error", std::to_string(worst_lse));
}

// The tolerance is tight enough to fail: an output scaled by 1 + 2^-6, or P rounded to 4
// significant bits (FP8 E4M3) instead of 8, breaks it wherever few keys carry the weight.
TEST(MlaReference, LessAccurateArithmeticBreaksTheOutTolerance) {
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Variant scaled{8, 1.0 + std::ldexp(1.0, -6)}, p_fp8{4, 1.0};
  for (const EmuCase& cs : kEmuCases) {
    SCOPED_TRACE(name_of(cs));
    const EmuProblem p = make_emu_problem(cs, rng);
    const EmuStats a = compare(p, 1, scaled), b = compare(p, 1, p_fp8);
    std::cout << "  " << name_of(cs) << ": out · (1 + 2^-6): " << a.violations << " of "
              << a.elements << " out of tolerance (max err/tol " << a.worst_ratio
              << "); P with 4 bits: " << b.violations << " (max err/tol " << b.worst_ratio << ")\n";
    if (cs.s_k <= 257) {
      EXPECT_GT(a.violations, 0) << "out · (1 + 2^-6) passed";
    }
    if (cs.s_k >= 20 && cs.s_k <= 257) {
      EXPECT_GT(b.violations, 0) << "P with 4 bits passed";
    }
  }
}

// Inputs built so that P's BF16 rounding errs by almost 2^-8 upwards on every key: the kernel's
// arithmetic then comes within ~15 % of the bound, so its A term cannot be much smaller. (The
// earlier tolerance, 2^-8·|ref| + 2^-9·max|V|, rejects this correct result.)
TEST(MlaReference, RoundingOfPComesCloseToTheBound) {
  const MlaConfig c{16, 1, 64, MlaKvDtype::bf16};
  constexpr int kKeys = 64;
  const float scale = 1.0f / std::sqrt(576.0f), scale_log2 = scale * 1.4426950408889634f;
  // Key 0: logit 0 (p = 1 exactly), V = 1 + 2^-5. Keys 1..63: p = (1 + 2^-8 + 2^-12) / 2, just
  // above a BF16 rounding midpoint, so P rounds up by (2^-8 − 2^-12) / (1 + 2^-8); V = 1. The
  // logits come from the RoPE dims 512 and 513 (q = 1 there), which V does not include.
  const double target =
      std::log2(0.5 * (1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -12))) / scale_log2;
  const float hi = bf16_to_float(float_to_bf16(static_cast<float>(target)));
  const float lo = bf16_to_float(float_to_bf16(static_cast<float>(target - hi)));
  EmuProblem p;
  p.config = c;
  p.max_blocks = 1;
  p.lens = {kKeys};
  p.table = {0};
  std::vector<float>& keys =
      p.keys.emplace_back(static_cast<std::size_t>(kKeys) * kMlaHeadDim, 0.0f);
  for (int t = 0; t < kKeys; ++t) {
    float* k = keys.data() + static_cast<std::size_t>(t) * kMlaHeadDim;
    for (int d = 0; d < kMlaValueDim; ++d) k[d] = t == 0 ? 1.03125f : 1.0f;
    k[512] = t == 0 ? 0.0f : hi;
    k[513] = t == 0 ? 0.0f : lo;
  }
  p.cache.resize(static_cast<std::size_t>(kKeys) * 1152);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint16_t v = float_to_bf16(keys[i]);
    std::memcpy(p.cache.data() + 2 * i, &v, 2);
  }
  p.q.assign(16 * kMlaHeadDim, 0);
  for (int h = 0; h < 16; ++h) {
    p.q[h * kMlaHeadDim + 512] = float_to_bf16(1.0f);
    p.q[h * kMlaHeadDim + 513] = float_to_bf16(1.0f);
  }
  p.out.resize(16 * kMlaValueDim);
  p.abs_out.resize(16 * kMlaValueDim);
  p.lse.resize(16);
  p.max_abs_logit.resize(16);
  mla_decode_reference(c, 1, 1, 0.0f, p.q, p.cache, p.table, p.lens, p.out, p.lse, p.abs_out,
                       p.max_abs_logit);
  // The construction works: p of keys 1..63 rounds up by nearly 2^-8.
  const float p1 = std::exp2((hi + lo) * scale_log2);
  const double delta = bf16_to_float(float_to_bf16(p1)) / p1 - 1.0;
  ASSERT_GT(delta, std::ldexp(0.9, -8));

  const EmuStats st = compare(p, 1, Variant{});
  EXPECT_EQ(st.violations, 0);
  EXPECT_GT(st.worst_ratio, 0.75);
  std::vector<float> q0(kMlaHeadDim);
  for (int d = 0; d < kMlaHeadDim; ++d) q0[d] = bf16_to_float(p.q[d]);
  const EmulatedRow e = emulate_row(q0.data(), keys.data(), kKeys, kKeys, 1, scale, Variant{});
  const double err = std::fabs(static_cast<double>(e.out[0]) - p.out[0]);
  const double old_tol = std::ldexp(std::fabs(p.out[0]), -8) + std::ldexp(1.03125, -9);
  std::cout << "  ref " << p.out[0] << ", A " << p.abs_out[0] << ", emulated " << e.out[0]
            << ": err/tol " << st.worst_ratio << ", err / (2^-8·|ref| + 2^-9·max|V|) "
            << err / old_tol << "\n";
  EXPECT_GT(err, old_tol);
}

}  // namespace
}  // namespace shapejit::runtime
