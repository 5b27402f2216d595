// The heuristic's configs are valid (fit shared memory, tile the problem as the kernels
// require) for every DeepSeek-V3 shape and for random shapes; the choice is constant within
// an M bucket; specs_for returns what the runtime call loads; a tuned config passed in
// replaces the heuristic's.
#include <gtest/gtest.h>

#include <random>

#include "shapejit/error.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {
namespace {

void expect_valid(const GemmProblem& p, const GemmConfig& c, const DeviceInfo& dev) {
  std::string why;
  EXPECT_TRUE(gemm_config_valid(p, c, dev, &why)) << why;
  EXPECT_LE(c.smem_bytes, dev.max_smem_per_block_optin);
  EXPECT_GE(c.num_stages, 2) << "a pipeline needs at least two stages";
  EXPECT_EQ(c.num_sms % c.num_multicast, 0);
  EXPECT_LE(c.num_sms, dev.num_sms);
  EXPECT_EQ(p.k % c.block_k, 0);
  EXPECT_EQ(c.block_n % 16, 0);
  // The next stage would not fit: stages is the most that fit.
  if (c.num_stages < 12) {
    EXPECT_GT(gemm_smem_bytes(p.kind, c.block_m, c.block_n, c.num_stages + 1, p.out_fp32),
              dev.max_smem_per_block_optin);
  }
}

TEST(GemmHeuristic, DeepSeekV3ShapesGetValidConfigs) {
  const DeviceInfo dev = default_target_device();
  for (const auto& shape : find_op_family("gemm_fp8").deepseek_v3_shapes()) {
    GemmProblem p;
    p.m = shape["m"];
    p.n = shape["n"];
    p.k = shape["k"];
    SCOPED_TRACE(shape.dump());
    for (auto kind : {GemmKind::fp8_1d2d, GemmKind::bf16}) {
      p.kind = kind;
      expect_valid(p, choose_gemm_config(p, dev), dev);
    }
  }
}

TEST(GemmHeuristic, RandomShapesGetValidConfigs) {
  std::mt19937 rng(std::random_device{}());
  const DeviceInfo dev = default_target_device();
  for (int i = 0; i < 2000; ++i) {
    GemmProblem p;
    p.kind = i % 2 ? GemmKind::fp8_1d2d : GemmKind::bf16;
    p.layout = p.kind == GemmKind::bf16 ? GemmLayout::normal : static_cast<GemmLayout>(rng() % 3);
    p.m = 1 + static_cast<int>(rng() % 20000);
    p.n = 8 * (1 + static_cast<int>(rng() % 4096));
    p.k = 128 * (1 + static_cast<int>(rng() % 128));
    p.num_groups = 1 + static_cast<int>(rng() % 64);
    p.out_fp32 = p.kind == GemmKind::bf16 && rng() % 2;
    SCOPED_TRACE("m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) +
                 " k=" + std::to_string(p.k) + " layout=" + std::to_string(int(p.layout)));
    const GemmConfig c = choose_gemm_config(p, dev);
    expect_valid(p, c, dev);
    if (p.layout == GemmLayout::grouped_contiguous) {
      EXPECT_EQ(p.align_m % c.block_m, 0);
      EXPECT_FALSE(c.num_multicast == 2 && !c.multicast_on_a);
    }
    if (p.kind == GemmKind::fp8_1d2d) {
      EXPECT_LE(c.block_n, 160);
    }
  }
}

TEST(GemmHeuristic, OtherDevicesGetConfigsThatFitThem) {
  DeviceInfo dev = default_target_device();
  dev.num_sms = 114;                       // H100 PCIe
  dev.max_smem_per_block_optin = 101376;   // a smaller part
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  const GemmConfig c = choose_gemm_config(p, dev);
  expect_valid(p, c, dev);
  EXPECT_EQ(c.num_sms, 114);
}

TEST(GemmHeuristic, ChoiceIsConstantWithinEachMBucket) {
  const DeviceInfo dev = default_target_device();
  GemmProblem p;
  p.n = 7168;
  p.k = 2048;
  int lo = 1;
  for (int hi : gemm_m_bucket_bounds()) {
    p.m = hi;
    const auto expected = choose_gemm_config(p, dev);
    for (int m : {lo, (lo + hi) / 2, hi}) {
      p.m = m;
      EXPECT_EQ(gemm_m_bucket(m), hi);
      EXPECT_EQ(choose_gemm_config(p, dev), expected) << "m=" << m;
    }
    lo = hi + 1;
  }
  EXPECT_EQ(gemm_m_bucket(16385), 32768);
  EXPECT_THROW(gemm_m_bucket(0), Error);
}

TEST(GemmHeuristic, WavesAreMinimizedForDecodeShapes) {
  const DeviceInfo dev = default_target_device();
  GemmProblem p;
  p.m = 1;
  p.n = 7168;
  p.k = 2048;
  const GemmConfig c = heuristic_gemm_config(p, dev);
  EXPECT_EQ(c.block_m, 64);
  EXPECT_LE((p.n + c.block_n - 1) / c.block_n, dev.num_sms) << "one wave for M = 1";
  EXPECT_EQ(c.num_multicast, 1);
}

TEST(GemmHeuristic, LargeFp8ShapesUseScaleAlignedTilesWithoutMulticast) {
  const DeviceInfo dev = default_target_device();
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  const GemmConfig c = heuristic_gemm_config(p, dev);
  EXPECT_EQ(c.block_m, 128);
  EXPECT_EQ(128 % c.block_n, 0);
  EXPECT_EQ(c.num_multicast, 1);
}

TEST(GemmHeuristic, SpecsForMatchesTheRuntimeCall) {
  const DeviceInfo dev = default_target_device();
  for (int m : {1, 100, 1000, 5000}) {
    GemmFp8Args a;
    a.m = m;
    a.n = 2112;
    a.k = 7168;
    const auto specs = find_op_family("gemm_fp8").specs_for(
        {{"op", "gemm_fp8"}, {"m", m}, {"n", 2112}, {"k", 7168}}, dev);
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0], gemm_spec(a, dev));
  }
  GemmFp8GroupedMaskedArgs g;
  g.m_max = 256;
  g.expected_m = 32;
  g.n = 4096;
  g.k = 7168;
  g.num_groups = 8;
  const auto specs = find_op_family("gemm_fp8_grouped_masked").specs_for(
      {{"op", "gemm_fp8_grouped_masked"}, {"m", 256}, {"expected_m", 32}, {"n", 4096},
       {"k", 7168}, {"groups", 8}},
      dev);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0], gemm_spec(g, dev));
}

namespace {
struct FixedLookup final : GemmConfigLookup {
  GemmConfig config;
  std::optional<GemmConfig> find(const GemmProblem&, const DeviceInfo&) const override { return config; }
};
}  // namespace

TEST(GemmHeuristic, TunedConfigReplacesTheHeuristicAndIsValidated) {
  const DeviceInfo dev = default_target_device();
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  GemmConfig forced = heuristic_gemm_config(p, dev);
  forced.block_n = 64;
  forced.swizzle_d_bytes = 128;
  forced.num_stages = 3;
  forced.smem_bytes = gemm_smem_bytes(p.kind, forced.block_m, 64, 3, false);
  FixedLookup tuned;
  tuned.config = forced;
  EXPECT_EQ(choose_gemm_config(p, dev, &tuned), forced);
  EXPECT_EQ(gemm_spec(GemmFp8Args{.m = 4096, .n = 7168, .k = 2048}, dev, &tuned),
            gemm_kernel_spec(p, forced, dev)) << "the spec builder takes the same lookup";
  EXPECT_EQ(choose_gemm_config(p, dev), heuristic_gemm_config(p, dev)) << "no lookup: the heuristic";
  tuned.config.num_stages = 40;   // cannot fit
  EXPECT_THROW(choose_gemm_config(p, dev, &tuned), Error);
}

TEST(GemmHeuristic, DeepSeekV3SetListsEveryShapeAndBucket) {
  const auto shapes = find_op_family("gemm_fp8").deepseek_v3_shapes();
  EXPECT_EQ(shapes.size(), 6u * gemm_m_bucket_bounds().size());
  EXPECT_EQ(gemm_m_bucket_bounds().front(), 64);
  EXPECT_EQ(gemm_m_bucket_bounds().back(), 16384);
}

}  // namespace
}  // namespace shapejit::runtime
