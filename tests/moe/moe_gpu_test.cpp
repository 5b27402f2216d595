// MoE kernels on a GPU against host references (skipped without one). Fresh random inputs
// every run (seeded from the clock, printed on failure), outputs poisoned before each launch.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "routing_invariants.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/quant.hpp"
#include "support/gpu_test.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {

unsigned fresh_seed() {
  return static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
}

template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer b(std::max<std::size_t>(v.size() * sizeof(T), 16));
  if (!v.empty()) b.upload(v);
  return b;
}

// 1 − 2Σxy / Σ(x² + y²), float64.
double calc_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double xy = 0, xx = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx += x[i] * x[i] + y[i] * y[i];
  }
  return xx == 0 ? 0 : 1 - 2 * xy / xx;
}

std::vector<std::uint16_t> random_bf16(std::size_t n, std::mt19937& rng, float sigma) {
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) {
    float f = d(rng);
    if (f == 0.f) f = 1e-3f;
    x = float_to_bf16(f);
  }
  return v;
}

struct DeviceRouting {
  DeviceBuffer tpe, begin, m_indices, row_to_token, token_slot, block_counts;
  MoeRouting view;
  DeviceRouting(const MoeConfig& c, int T) {
    const std::int64_t rows = moe_num_rows(c, T);
    tpe = DeviceBuffer(4 * c.num_experts);
    begin = DeviceBuffer(4 * (c.num_experts + 1));
    m_indices = DeviceBuffer(4 * rows);
    row_to_token = DeviceBuffer(4 * rows);
    token_slot = DeviceBuffer(4 * std::max<std::int64_t>(1, static_cast<std::int64_t>(T) * c.top_k));
    block_counts = DeviceBuffer(4 * moe_route_blocks(c, T) * c.num_experts);
    for (auto* b : {&tpe, &begin, &m_indices, &row_to_token, &token_slot, &block_counts}) b->fill_bytes(0xA5);
    view = {tpe.ptr(), begin.ptr(), m_indices.ptr(), row_to_token.ptr(), token_slot.ptr(), block_counts.ptr()};
  }
  MoeRoutingHost download(const MoeConfig& c, int T) const {
    const std::int64_t rows = moe_num_rows(c, T);
    MoeRoutingHost h;
    h.tokens_per_expert = tpe.download<int>(c.num_experts);
    h.row_begin = begin.download<int>(c.num_experts + 1);
    h.m_indices = m_indices.download<int>(rows);
    h.row_to_token = row_to_token.download<int>(rows);
    h.token_slot = token_slot.download<int>(static_cast<std::size_t>(T) * c.top_k);
    return h;
  }
};

MoeRoutingHost route_on_gpu(const MoeConfig& c, int T, const std::vector<int>& topk) {
  DeviceRouting r(c, T);
  DeviceBuffer idx = to_device(topk);
  moe_route(c, T, idx.ptr(), r.view);
  SHAPEJIT_CU(driver().cuCtxSynchronize());
  return r.download(c, T);
}

void expect_same_routing(const MoeRoutingHost& gpu, const MoeRoutingHost& ref) {
  EXPECT_EQ(gpu.tokens_per_expert, ref.tokens_per_expert);
  EXPECT_EQ(gpu.row_begin, ref.row_begin);
  EXPECT_EQ(gpu.token_slot, ref.token_slot);
  EXPECT_EQ(gpu.row_to_token, ref.row_to_token);
  EXPECT_EQ(gpu.m_indices, ref.m_indices);
}

}  // namespace

TEST(MoeGpu, RoutingMatchesTheHostReference) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  struct Case { int T, E, k, global; double drop, zipf; int begin; };
  for (const Case& cs : {Case{128, 32, 8, 256, 0.0, 0.0, 64}, Case{4096, 32, 8, 256, 0.05, 1.2, 0},
                         Case{5000, 256, 8, 256, 0.1, 0.0, 0}, Case{777, 7, 3, 9, 0.2, 0.8, 1},
                         Case{1, 4, 2, 4, 0.0, 0.0, 0}}) {
    MoeConfig c;
    c.num_experts = cs.E;
    c.top_k = cs.k;
    c.expert_begin = cs.begin;
    const auto topk = test::random_topk(cs.T, cs.k, cs.global, cs.drop, cs.zipf, seed + cs.T);
    SCOPED_TRACE("T=" + std::to_string(cs.T) + " E=" + std::to_string(cs.E));
    const MoeRoutingHost gpu = route_on_gpu(c, cs.T, topk);
    expect_same_routing(gpu, moe_route_reference(c, cs.T, topk));
    test::expect_layout_invariants(c, cs.T, topk, gpu);
  }
}

TEST(MoeGpu, RoutingEdgeCases) {
  SHAPEJIT_REQUIRE_GPU();
  MoeConfig c;
  c.num_experts = 16;
  c.top_k = 8;
  // All entries on one expert (spans several routing blocks), then all dropped.
  std::vector<int> one(3000 * 8);
  for (std::size_t i = 0; i < one.size(); ++i) one[i] = i % 8 == 0 ? 5 : -1;
  expect_same_routing(route_on_gpu(c, 3000, one), moe_route_reference(c, 3000, one));
  const std::vector<int> none(100 * 8, -1);
  expect_same_routing(route_on_gpu(c, 100, none), moe_route_reference(c, 100, none));
  // Masked layout with capacity overflow.
  c.layout = MoeLayout::masked;
  c.max_tokens_per_expert = 128;
  const auto topk = test::random_topk(2000, 8, 16, 0.1, 1.5, fresh_seed());
  MoeRoutingHost gpu = route_on_gpu(c, 2000, topk);
  expect_same_routing(gpu, moe_route_reference(c, 2000, topk));
}

TEST(MoeGpu, DispatchQuantizesEachTokenOnceIntoItsRows) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MoeConfig c;   // H = 7168, top-8, 32 experts
  const int T = 300;
  const auto topk = test::random_topk(T, c.top_k, 64, 0.1, 0.0, seed);
  const MoeRoutingHost ref = moe_route_reference(c, T, topk);
  DeviceRouting r(c, T);
  DeviceBuffer idx = to_device(topk);
  moe_route(c, T, idx.ptr(), r.view);

  const auto x = random_bf16(static_cast<std::size_t>(T) * c.hidden, rng, 2.0f);
  DeviceBuffer dx = to_device(x);
  const std::int64_t rows = moe_num_rows(c, T), stride = moe_scale_stride(c, T);
  DeviceBuffer q(rows * c.hidden), s(c.hidden / 128 * stride * 4);
  std::vector<std::uint8_t> hq(static_cast<std::size_t>(T) * c.hidden);
  std::vector<float> hs(static_cast<std::size_t>(T) * c.hidden / 128);
  quantize_fp8_per_token_group_reference(x.data(), hq.data(), hs.data(), T, c.hidden, 128,
                                         ScaleLayout::row_major);
  // The proven launch, then every tiled shape the definition allows: all bit-identical.
  for (const MoeLaunch& l : moe_step_launches(MoeStep::dispatch, c)) {
    SCOPED_TRACE(to_string(l));
    q.fill_bytes(0xFF);   // E4M3 NaN
    s.fill_bytes(0xFF);   // FP32 NaN
    moe_dispatch(c, l, T, dx.ptr(), r.view, {q.ptr(), s.ptr(), stride});
    SHAPEJIT_CU(driver().cuCtxSynchronize());
    const auto gq = q.download<std::uint8_t>(rows * c.hidden);
    const auto gs = s.download<float>(c.hidden / 128 * stride);
    int routed_rows = 0;
    for (std::int64_t row = 0; row < rows; ++row) {
      const int t = ref.row_to_token[row];
      if (t < 0) {   // padding / unused rows are never written
        ASSERT_EQ(gq[row * c.hidden], 0xFF) << "row " << row;
        continue;
      }
      ++routed_rows;
      ASSERT_EQ(std::memcmp(&gq[row * c.hidden], &hq[static_cast<std::size_t>(t) * c.hidden], c.hidden), 0)
          << "FP8 row " << row << " (token " << t << ")";
      for (int g = 0; g < c.hidden / 128; ++g)
        ASSERT_EQ(gs[g * stride + row], hs[static_cast<std::size_t>(t) * (c.hidden / 128) + g])
            << "scale row " << row << " group " << g;
    }
    EXPECT_GT(routed_rows, T);   // most tokens have several local experts
  }
}

TEST(MoeGpu, SwigluQuantizesSiluGateTimesUp) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MoeConfig c;   // I = 2048
  const int T = 200;
  const auto topk = test::random_topk(T, c.top_k, 32, 0.1, 0.0, seed);
  const MoeRoutingHost ref = moe_route_reference(c, T, topk);
  DeviceRouting r(c, T);
  DeviceBuffer idx = to_device(topk);
  moe_route(c, T, idx.ptr(), r.view);
  const std::int64_t rows = moe_num_rows(c, T), stride = moe_scale_stride(c, T);
  const int I = c.intermediate;
  const auto h = random_bf16(rows * 2 * I, rng, 3.0f);
  DeviceBuffer dh = to_device(h);
  std::vector<std::uint8_t> proven_q;   // the proven launch's result (it comes first)
  std::vector<float> proven_s;
  DeviceBuffer q(rows * I), s(I / 128 * stride * 4);
  for (const MoeLaunch& l : moe_step_launches(MoeStep::swiglu, c)) {
    SCOPED_TRACE(to_string(l));
    q.fill_bytes(0xFF);
    s.fill_bytes(0xFF);
    moe_swiglu(c, l, T, dh.ptr(), r.view, {q.ptr(), s.ptr(), stride});
    SHAPEJIT_CU(driver().cuCtxSynchronize());
    const auto gq = q.download<std::uint8_t>(rows * I);
    const auto gs = s.download<float>(I / 128 * stride);

    std::vector<double> got, want;
    for (std::int64_t row = 0; row < rows; ++row) {
      if (ref.row_to_token[row] < 0) {
        ASSERT_EQ(gq[row * I], 0xFF) << "skipped row " << row << " was written";
        continue;
      }
      for (int g = 0; g < I / 128; ++g) {
        const float scale = gs[g * stride + row];
        double amax = 0;
        for (int i = g * 128; i < (g + 1) * 128; ++i) {
          const double gate = bf16_to_float(h[row * 2 * I + i]), up = bf16_to_float(h[row * 2 * I + I + i]);
          const double v = gate / (1 + std::exp(-gate)) * up;
          amax = std::max(amax, std::fabs(v));
          want.push_back(v);
          got.push_back(static_cast<double>(e4m3_to_float(gq[row * I + i])) * scale);
        }
        // The scale is max(amax, 1e-4) / 448 of the FP32 values: relative error of FP32 SwiGLU.
        ASSERT_NEAR(scale, std::max(amax, 1e-4) / 448.0, 1e-5 * scale) << "row " << row << " group " << g;
      }
    }
    // FP8 E4M3 rounding alone gives ~2.5e-4 on Gaussian-like data; 1e-3 is the FP8 bound.
    const double diff = calc_diff(got, want);
    EXPECT_LT(diff, 1e-3);
    EXPECT_GT(diff, 0.0);
    // Every tiled shape computes the same FP32 values in the same order as the proven kernel:
    // its FP8 bytes and scales are identical, not just close.
    if (!l.tiled) {
      proven_q = gq;
      proven_s = gs;
    } else {
      EXPECT_TRUE(gq == proven_q) << "FP8 bytes differ from the proven kernel's";
      EXPECT_TRUE(gs == proven_s) << "scales differ from the proven kernel's";
    }
  }
}

TEST(MoeGpu, CombineSumsWeightedRowsInFp32) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MoeConfig c;
  const int T = 257;
  const auto topk = test::random_topk(T, c.top_k, 48, 0.1, 0.0, seed);   // some tokens: no local expert
  const MoeRoutingHost ref = moe_route_reference(c, T, topk);
  DeviceRouting r(c, T);
  DeviceBuffer idx = to_device(topk);
  moe_route(c, T, idx.ptr(), r.view);
  const std::int64_t rows = moe_num_rows(c, T);
  const auto y = random_bf16(rows * c.hidden, rng, 1.0f);
  std::uniform_real_distribution<float> wd(0.05f, 1.0f);
  std::vector<float> w(static_cast<std::size_t>(T) * c.top_k);
  for (auto& v : w) v = wd(rng);
  DeviceBuffer dy = to_device(y), dw = to_device(w), out(static_cast<std::size_t>(T) * c.hidden * 2);
  std::vector<std::uint16_t> proven;   // the proven launch's result (it comes first)
  for (const MoeLaunch& l : moe_step_launches(MoeStep::combine, c)) {
    SCOPED_TRACE(to_string(l));
    out.fill_bytes(0xFF);   // BF16 NaN
    moe_combine(c, l, T, dy.ptr(), r.view, dw.ptr(), out.ptr());
    SHAPEJIT_CU(driver().cuCtxSynchronize());
    const auto go = out.download<std::uint16_t>(static_cast<std::size_t>(T) * c.hidden);

    std::vector<double> got, want;
    for (int t = 0; t < T; ++t)
      for (int col = 0; col < c.hidden; ++col) {
        double acc = 0;
        for (int j = 0; j < c.top_k; ++j) {
          const int row = ref.token_slot[t * c.top_k + j];
          if (row >= 0) acc += static_cast<double>(w[t * c.top_k + j]) * bf16_to_float(y[row * c.hidden + col]);
        }
        const double g = bf16_to_float(go[static_cast<std::size_t>(t) * c.hidden + col]);
        // One BF16 rounding of an FP32 sum of <= 8 terms: <= 2^-8 relative, plus FP32 slack.
        ASSERT_NEAR(g, acc, std::ldexp(std::fabs(acc), -8) + 1e-6) << "token " << t << " col " << col;
        got.push_back(g);
        want.push_back(acc);
      }
    EXPECT_LT(calc_diff(got, want), 1e-5);
    // Same FP32 sum in the same j order and one BF16 rounding: bit-identical to the proven kernel.
    if (!l.tiled)
      proven = go;
    else
      EXPECT_TRUE(go == proven) << "output differs from the proven kernel's";
  }
}

TEST(MoeGpu, WholeLayerMatchesFloat64Reference) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MoeConfig c;
  c.hidden = 1024;
  c.intermediate = 512;
  c.num_experts = 4;
  c.top_k = 2;
  const int T = 300, H = c.hidden, I = c.intermediate, E = c.num_experts;
  const auto topk = test::random_topk(T, c.top_k, 6, 0.05, 0.0, seed);
  std::uniform_real_distribution<float> wd(0.05f, 1.0f), ud(-1.f, 1.f), sd(0.5f, 2.f);
  std::vector<float> tw(static_cast<std::size_t>(T) * c.top_k);
  for (auto& v : tw) v = wd(rng);
  const auto x = random_bf16(static_cast<std::size_t>(T) * H, rng, 1.0f);
  auto fp8_weights = [&](int n, int k, std::vector<std::uint8_t>& q, std::vector<float>& s) {
    q.resize(static_cast<std::size_t>(E) * n * k);
    s.resize(static_cast<std::size_t>(E) * (n / 128) * (k / 128));
    for (auto& b : q) b = float_to_e4m3(ud(rng) * 448.f);
    for (auto& v : s) v = sd(rng) / 448.f / std::sqrt(static_cast<float>(k));
  };
  std::vector<std::uint8_t> w13, w2;
  std::vector<float> w13s, w2s;
  fp8_weights(2 * I, H, w13, w13s);
  fp8_weights(H, I, w2, w2s);
  DeviceBuffer dx = to_device(x), didx = to_device(topk), dtw = to_device(tw);
  DeviceBuffer dw13 = to_device(w13), dw13s = to_device(w13s), dw2 = to_device(w2), dw2s = to_device(w2s);
  DeviceBuffer out(static_cast<std::size_t>(T) * H * 2);
  out.fill_bytes(0xFF);
  MoeWorkspace ws(c, T);
  try {
    moe_layer(c, T, dx.ptr(), didx.ptr(), dtw.ptr(), {dw13.ptr(), dw13s.ptr(), dw2.ptr(), dw2s.ptr()},
              out.ptr(), ws);
  } catch (const Error& e) {
    if (e.code() == Errc::unsupported) GTEST_SKIP() << e.what();
    throw;
  }
  SHAPEJIT_CU(driver().cuCtxSynchronize());
  const auto go = out.download<std::uint16_t>(static_cast<std::size_t>(T) * H);

  // Reference: float64 on the dequantized FP8 inputs, with the activation quantized to FP8 at
  // the same point as the kernels.
  std::vector<std::uint8_t> xq(static_cast<std::size_t>(T) * H);
  std::vector<float> xs(static_cast<std::size_t>(T) * H / 128);
  quantize_fp8_per_token_group_reference(x.data(), xq.data(), xs.data(), T, H, 128, ScaleLayout::row_major);
  auto wval = [&](const std::vector<std::uint8_t>& q, const std::vector<float>& s, int n, int k, int e,
                  int r, int col) {
    return static_cast<double>(e4m3_to_float(q[(static_cast<std::size_t>(e) * n + r) * k + col])) *
           s[(static_cast<std::size_t>(e) * (n / 128) + r / 128) * (k / 128) + col / 128];
  };
  std::vector<double> got, want(static_cast<std::size_t>(T) * H, 0.0);
  for (int t = 0; t < T; ++t)
    for (int j = 0; j < c.top_k; ++j) {
      const int e = topk[t * c.top_k + j] - c.expert_begin;
      if (e < 0 || e >= E) continue;
      std::vector<double> a(I);
      for (int n = 0; n < I; ++n) {
        double g = 0, u = 0;
        for (int k = 0; k < H; ++k) {
          const double xv = static_cast<double>(e4m3_to_float(xq[static_cast<std::size_t>(t) * H + k])) *
                            xs[static_cast<std::size_t>(t) * (H / 128) + k / 128];
          g += xv * wval(w13, w13s, 2 * I, H, e, n, k);
          u += xv * wval(w13, w13s, 2 * I, H, e, I + n, k);
        }
        a[n] = g / (1 + std::exp(-g)) * u;
      }
      for (int g0 = 0; g0 < I; g0 += 128) {   // FP8 1x128 quantization of the activation
        double amax = 0;
        for (int n = g0; n < g0 + 128; ++n) amax = std::max(amax, std::fabs(a[n]));
        const float scale = static_cast<float>(std::max(amax, 1e-4) / 448.0);
        for (int n = g0; n < g0 + 128; ++n)
          a[n] = static_cast<double>(e4m3_to_float(float_to_e4m3(static_cast<float>(a[n] / scale)))) * scale;
      }
      for (int col = 0; col < H; ++col) {
        double acc = 0;
        for (int n = 0; n < I; ++n) acc += a[n] * wval(w2, w2s, H, I, e, col, n);
        want[static_cast<std::size_t>(t) * H + col] += tw[t * c.top_k + j] * acc;
      }
    }
  for (std::size_t i = 0; i < want.size(); ++i) got.push_back(bf16_to_float(go[i]));
  EXPECT_LT(calc_diff(got, want), 1e-3);
}
