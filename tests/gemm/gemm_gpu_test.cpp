// GEMM correctness on the GPU against a float64 reference on the dequantized inputs. Fresh
// random data each run, output poisoned with NaN (0xFF bytes) first. For large M the reference
// covers a sample of rows (first, last, one random row per 64-row block; every column), and the
// whole output is checked for NaN, so an unwritten tile cannot pass.
// Tolerances (calc_diff = 1 − 2Σxy/Σ(x²+y²)): FP8 < 1e-3 (BF16 rounding of the output alone
// gives ~1e-5, FP8 products are exact and FP32 accumulation per 128 adds ~1e-7; the margin
// covers the tensor cores' reduced-precision FP8 accumulation inside a K block), BF16 < 1e-5.
#include <cmath>
#include <random>

#include "gemm_reference.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/scale_layout.hpp"
#include "support/gpu_test.hpp"

namespace shapejit::runtime {
namespace {

using gemm_test::calc_diff;

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

DeviceBuffer upload(const void* p, std::size_t bytes) {
  DeviceBuffer b(std::max<std::size_t>(bytes, 16));
  if (bytes) b.upload(p, bytes);
  return b;
}
template <typename T>
DeviceBuffer upload(const std::vector<T>& v) {
  return upload(v.data(), v.size() * sizeof(T));
}

// The device result for the given rows (row-major D with ld columns), as doubles; counts NaN
// over the whole output.
std::vector<double> take_rows(const std::vector<std::uint16_t>& d, int ld,
                              const std::vector<int>& rows, int n) {
  std::vector<double> out(rows.size() * n);
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (int j = 0; j < n; ++j)
      out[i * n + j] = bf16_to_float(d[static_cast<std::size_t>(rows[i]) * ld + j]);
  return out;
}

std::size_t count_nan(const std::vector<std::uint16_t>& d) {
  std::size_t c = 0;
  for (auto v : d) c += std::isnan(bf16_to_float(v));
  return c;
}

struct Fp8B {
  gemm_test::Fp8Matrix q;
  std::vector<float> scales;
  DeviceBuffer dq, ds;
};

Fp8B make_b(int groups, int n, int k) {
  Fp8B b;
  b.q = gemm_test::random_fp8(groups * n, k, rng());
  b.scales = gemm_test::random_scales(static_cast<std::size_t>(groups) * ((n + 127) / 128) * (k / 128), rng());
  b.dq = upload(b.q.q);
  b.ds = upload(b.scales);
  return b;
}

double run_fp8(int m, int n, int k, const Fp8B& b) {
  auto a = gemm_test::random_fp8(m, k, rng());
  const std::int64_t stride = m_major_scale_stride(m);
  auto sa_rm = gemm_test::random_scales(static_cast<std::size_t>(m) * (k / 128), rng());
  auto sa = scales_to_m_major(sa_rm.data(), m, k / 128);
  DeviceBuffer da = upload(a.q), dsa = upload(sa);
  DeviceBuffer dd(static_cast<std::size_t>(m) * n * 2);
  dd.fill_bytes(0xff);
  GemmFp8Args args;
  args.a = da.ptr();
  args.a_scales = dsa.ptr();
  args.b = b.dq.ptr();
  args.b_scales = b.ds.ptr();
  args.d = dd.ptr();
  args.m = m;
  args.n = n;
  args.k = k;
  gemm_fp8_nt(args);
  auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(m) * n);
  EXPECT_EQ(count_nan(d), 0u) << "unwritten (poisoned) outputs";
  const auto rows = gemm_test::sample_rows(m, 48, rng());
  const auto ref = gemm_test::fp8_reference(a.q.data(), sa.data(), stride, b.q.q.data(),
                                            b.scales.data(), rows, n, k);
  return calc_diff(ref, take_rows(d, n, rows, n));
}

constexpr int kDsv3[][2] = {{2112, 7168}, {24576, 1536}, {32768, 512},
                            {7168, 16384}, {4096, 7168}, {7168, 2048}};

TEST(GemmGpu, Fp8MatchesReferenceOnDeepSeekV3Shapes) {
  SHAPEJIT_REQUIRE_GPU();
  for (const auto& nk : kDsv3) {
    const Fp8B b = make_b(1, nk[0], nk[1]);
    for (int m : {1, 64, 128, 1000, 4096}) {
      const double diff = run_fp8(m, nk[0], nk[1], b);
      EXPECT_LT(diff, 1e-3) << "m=" << m << " n=" << nk[0] << " k=" << nk[1];
    }
  }
}

TEST(GemmGpu, Fp8RaggedEdges) {
  SHAPEJIT_REQUIRE_GPU();
  // N not a multiple of any tile or of 128, M not a multiple of 64, minimal K.
  for (auto [m, n, k] : {std::tuple{77, 136, 128}, std::tuple{1, 8, 256}, std::tuple{129, 1000, 384},
                         std::tuple{700, 2056, 1024}, std::tuple{3001, 520, 640}}) {
    const Fp8B b = make_b(1, n, k);
    EXPECT_LT(run_fp8(m, n, k, b), 1e-3) << "m=" << m << " n=" << n << " k=" << k;
  }
}

TEST(GemmGpu, Fp8HonoursLeadingDimensions) {
  SHAPEJIT_REQUIRE_GPU();
  const int m = 200, n = 256, k = 512, lda = 640, ldd = 264;
  auto a = gemm_test::random_fp8(m, lda, rng());
  const Fp8B b = make_b(1, n, k);
  auto sa_rm = gemm_test::random_scales(static_cast<std::size_t>(m) * (k / 128), rng());
  auto sa = scales_to_m_major(sa_rm.data(), m, k / 128);
  DeviceBuffer da = upload(a.q), dsa = upload(sa), dd(static_cast<std::size_t>(m) * ldd * 2);
  dd.fill_bytes(0xff);
  GemmFp8Args args;
  args.a = da.ptr();
  args.a_scales = dsa.ptr();
  args.b = b.dq.ptr();
  args.b_scales = b.ds.ptr();
  args.d = dd.ptr();
  args.m = m;
  args.n = n;
  args.k = k;
  args.lda = lda;
  args.ldd = ldd;
  gemm_fp8_nt(args);
  auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(m) * ldd);
  // Compact A for the reference.
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(m) * k);
  for (int r = 0; r < m; ++r)
    std::copy_n(a.q.data() + static_cast<std::size_t>(r) * lda, k, packed.data() + r * k);
  std::vector<int> rows(m);
  for (int r = 0; r < m; ++r) rows[r] = r;
  const auto ref = gemm_test::fp8_reference(packed.data(), sa.data(), m_major_scale_stride(m),
                                            b.q.q.data(), b.scales.data(), rows, n, k);
  EXPECT_LT(calc_diff(ref, take_rows(d, ldd, rows, n)), 1e-3);
  // The padding columns of D stay poisoned.
  EXPECT_TRUE(std::isnan(bf16_to_float(d[n])));
}

TEST(GemmGpu, Bf16MatchesReferenceOnDeepSeekV3Shapes) {
  SHAPEJIT_REQUIRE_GPU();
  for (const auto& nk : kDsv3) {
    const int n = nk[0], k = nk[1];
    auto b = gemm_test::random_bf16(static_cast<std::size_t>(n) * k, rng());
    DeviceBuffer db = upload(b);
    for (int m : {1, 64, 128, 1000, 4096}) {
      for (bool f32 : {false, true}) {
        if (f32 && m != 1000) continue;
        auto a = gemm_test::random_bf16(static_cast<std::size_t>(m) * k, rng());
        DeviceBuffer da = upload(a), dd(static_cast<std::size_t>(m) * n * (f32 ? 4 : 2));
        dd.fill_bytes(0xff);
        GemmBf16Args args;
        args.a = da.ptr();
        args.b = db.ptr();
        args.d = dd.ptr();
        args.m = m;
        args.n = n;
        args.k = k;
        args.d_dtype = f32 ? DType::f32 : DType::bf16;
        gemm_bf16_nt(args);
        const auto rows = gemm_test::sample_rows(m, 24, rng());
        const auto ref = gemm_test::bf16_reference(a.data(), b.data(), rows, n, k);
        std::vector<double> got(rows.size() * n);
        std::size_t nan = 0;
        if (f32) {
          auto d = dd.download<float>(static_cast<std::size_t>(m) * n);
          for (float v : d) nan += std::isnan(v);
          for (std::size_t i = 0; i < rows.size(); ++i)
            for (int j = 0; j < n; ++j) got[i * n + j] = d[static_cast<std::size_t>(rows[i]) * n + j];
        } else {
          auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(m) * n);
          nan = count_nan(d);
          got = take_rows(d, n, rows, n);
        }
        EXPECT_EQ(nan, 0u);
        EXPECT_LT(calc_diff(ref, got), 1e-5) << "m=" << m << " n=" << n << " k=" << k << " f32=" << f32;
      }
    }
  }
}

void check_grouped_contiguous() {
  const int n = 4096, k = 1024, groups = 5;
  const std::vector<int> rows_per_group = {100, 0, 300, 1, 128};
  std::vector<int> m_indices;
  for (int g = 0; g < groups; ++g) {
    const int padded = (rows_per_group[g] + 127) / 128 * 128;
    for (int r = 0; r < padded; ++r) m_indices.push_back(r < rows_per_group[g] ? g : -1);
  }
  const int m_sum = static_cast<int>(m_indices.size());
  const Fp8B b = make_b(groups, n, k);
  auto a = gemm_test::random_fp8(m_sum, k, rng());
  auto sa_rm = gemm_test::random_scales(static_cast<std::size_t>(m_sum) * (k / 128), rng());
  auto sa = scales_to_m_major(sa_rm.data(), m_sum, k / 128);
  DeviceBuffer da = upload(a.q), dsa = upload(sa), dmi = upload(m_indices);
  DeviceBuffer dd(static_cast<std::size_t>(m_sum) * n * 2);
  dd.fill_bytes(0xff);
  GemmFp8GroupedContiguousArgs args;
  args.a = da.ptr();
  args.a_scales = dsa.ptr();
  args.b = b.dq.ptr();
  args.b_scales = b.ds.ptr();
  args.d = dd.ptr();
  args.m_indices = dmi.ptr();
  args.m_sum = m_sum;
  args.n = n;
  args.k = k;
  args.num_groups = groups;
  gemm_fp8_grouped_contiguous(args);
  auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(m_sum) * n);
  const int nkb = k / 128, nsb = (n + 127) / 128;
  for (int g = 0; g < groups; ++g) {
    std::vector<int> rows;
    for (int r = 0; r < m_sum; ++r)
      if (m_indices[r] == g) rows.push_back(r);
    if (rows.empty()) continue;
    const auto ref = gemm_test::fp8_reference(
        a.q.data(), sa.data(), m_major_scale_stride(m_sum),
        b.q.q.data() + static_cast<std::size_t>(g) * n * k,
        b.scales.data() + static_cast<std::size_t>(g) * nsb * nkb, rows, n, k);
    const auto got = take_rows(d, n, rows, n);
    for (double v : got) ASSERT_FALSE(std::isnan(v)) << "group " << g;
    EXPECT_LT(calc_diff(ref, got), 1e-3) << "group " << g;
  }
}

void check_grouped_masked() {
  const int n = 7168, k = 2048, groups = 6, m_max = 256;
  const std::vector<int> masked_m = {0, 1, 200, 256, 64, 65};
  const int rows_all = groups * m_max;
  const Fp8B b = make_b(groups, n, k);
  auto a = gemm_test::random_fp8(rows_all, k, rng());
  auto sa_rm = gemm_test::random_scales(static_cast<std::size_t>(rows_all) * (k / 128), rng());
  auto sa = scales_to_m_major(sa_rm.data(), rows_all, k / 128);
  DeviceBuffer da = upload(a.q), dsa = upload(sa), dmm = upload(masked_m);
  DeviceBuffer dd(static_cast<std::size_t>(rows_all) * n * 2);
  for (int expected_m : {1, 128}) {
    dd.fill_bytes(0xff);
    GemmFp8GroupedMaskedArgs args;
    args.a = da.ptr();
    args.a_scales = dsa.ptr();
    args.b = b.dq.ptr();
    args.b_scales = b.ds.ptr();
    args.d = dd.ptr();
    args.masked_m = dmm.ptr();
    args.m_max = m_max;
    args.n = n;
    args.k = k;
    args.num_groups = groups;
    args.expected_m = expected_m;
    gemm_fp8_grouped_masked(args);
    auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(rows_all) * n);
    const int nkb = k / 128, nsb = (n + 127) / 128;
    for (int g = 0; g < groups; ++g) {
      std::vector<int> rows;
      for (int r = 0; r < masked_m[g]; r += (masked_m[g] > 40 ? 7 : 1)) rows.push_back(g * m_max + r);
      if (masked_m[g] > 0) rows.push_back(g * m_max + masked_m[g] - 1);
      if (rows.empty()) continue;
      const auto ref = gemm_test::fp8_reference(
          a.q.data(), sa.data(), m_major_scale_stride(rows_all),
          b.q.q.data() + static_cast<std::size_t>(g) * n * k,
          b.scales.data() + static_cast<std::size_t>(g) * nsb * nkb, rows, n, k);
      const auto got = take_rows(d, n, rows, n);
      for (double v : got) ASSERT_FALSE(std::isnan(v)) << "group " << g;
      EXPECT_LT(calc_diff(ref, got), 1e-3) << "group " << g << " expected_m " << expected_m;
    }
    // Group 0 has no rows: nothing of it is written.
    EXPECT_TRUE(std::isnan(bf16_to_float(d[0])));
  }
}

TEST(GemmGpu, GroupedContiguousMatchesReference) {
  SHAPEJIT_REQUIRE_GPU();
  check_grouped_contiguous();
}

TEST(GemmGpu, GroupedMaskedMatchesReference) {
  SHAPEJIT_REQUIRE_GPU();
  check_grouped_masked();
}

// The heuristic leaves 2-CTA multicast off; tuning records may turn it on, so both sides of
// it are checked here by forcing it on this thread's calls, on grids with odd block counts (a
// pair's second tile outside the matrix).
class MulticastRule final : public GemmConfigLookup {
 public:
  explicit MulticastRule(bool on_a) : on_a_(on_a) {}
  std::optional<GemmConfig> find(const GemmProblem& p, const DeviceInfo& d) const override {
    GemmConfig c = heuristic_gemm_config(p, d);
    c.num_multicast = 2;
    c.multicast_on_a = on_a_;
    c.num_sms = d.num_sms / 2 * 2;
    return c;
  }

 private:
  bool on_a_;
};

class ForceMulticast {
 public:
  explicit ForceMulticast(bool on_a) : rule_(on_a), force_(rule_) {}

 private:
  MulticastRule rule_;
  ForcedGemmConfig force_;
};

TEST(GemmGpu, MulticastSharingBMatchesReference) {
  SHAPEJIT_REQUIRE_GPU();
  ForceMulticast force(false);
  for (auto [m, n, k] : {std::tuple{1000, 2112, 1024}, std::tuple{129, 7168, 512},
                         std::tuple{4096, 4096, 2048}}) {
    const Fp8B b = make_b(1, n, k);
    EXPECT_LT(run_fp8(m, n, k, b), 1e-3) << "m=" << m << " n=" << n << " k=" << k;
  }
  check_grouped_masked();
}

TEST(GemmGpu, MulticastSharingAMatchesReference) {
  SHAPEJIT_REQUIRE_GPU();
  ForceMulticast force(true);
  for (auto [m, n, k] : {std::tuple{1000, 2112, 1024}, std::tuple{129, 7168 + 128, 512},
                         std::tuple{4096, 4096, 2048}}) {
    const Fp8B b = make_b(1, n, k);
    EXPECT_LT(run_fp8(m, n, k, b), 1e-3) << "m=" << m << " n=" << n << " k=" << k;
  }
  check_grouped_contiguous();
  check_grouped_masked();
}

TEST(GemmGpu, Bf16MulticastMatchesReference) {
  SHAPEJIT_REQUIRE_GPU();
  for (bool on_a : {false, true}) {
    ForceMulticast force(on_a);
    const int m = 333, n = 520, k = 1024;
    auto a = gemm_test::random_bf16(static_cast<std::size_t>(m) * k, rng());
    auto b = gemm_test::random_bf16(static_cast<std::size_t>(n) * k, rng());
    DeviceBuffer da = upload(a), db = upload(b), dd(static_cast<std::size_t>(m) * n * 2);
    dd.fill_bytes(0xff);
    GemmBf16Args args;
    args.a = da.ptr();
    args.b = db.ptr();
    args.d = dd.ptr();
    args.m = m;
    args.n = n;
    args.k = k;
    gemm_bf16_nt(args);
    auto d = dd.download<std::uint16_t>(static_cast<std::size_t>(m) * n);
    EXPECT_EQ(count_nan(d), 0u);
    std::vector<int> rows(m);
    for (int r = 0; r < m; ++r) rows[r] = r;
    EXPECT_LT(calc_diff(gemm_test::bf16_reference(a.data(), b.data(), rows, n, k),
                        take_rows(d, n, rows, n)),
              1e-5)
        << "multicast on " << (on_a ? "A" : "B");
  }
}

}  // namespace
}  // namespace shapejit::runtime
