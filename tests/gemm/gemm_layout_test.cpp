// Host and device agree on every GEMM kernel of the DeepSeek-V3 set: the threads a launch uses
// are the kernel's launch bounds (.maxntid in the PTX), and the dynamic shared memory it asks
// for covers the kernel's layout (its Smem struct's kTotal in the PTX, plus the 1 KiB alignment
// slack) and, with ptxas's static shared memory, fits the device.
#include <gtest/gtest.h>

#include <set>

#include "gemm/gemm_layout.cuh"
#include "shapejit/jit/kernel_catalog.hpp"
#include "support/compiled.hpp"
#include "support/ptx_facts.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {
namespace {

using shapejit::testing::compiled;
using shapejit::testing::ptx_max_threads;
using shapejit::testing::ptx_member_value;

struct GemmLaunch {
  GemmKind kind;
  GemmProblem problem;
  GemmConfig config;
};

// What gemm.cpp launches a spec with: the config its values name, the problem they fix.
GemmLaunch launch_of(const jit::KernelSpec& spec) {
  GemmLaunch l{};
  l.kind = spec.kernel == "sm90_fp8_gemm_1d2d" ? GemmKind::fp8_1d2d : GemmKind::bf16;
  const jit::ParamValues v = gemm_definition(l.kind).values(spec);
  GemmProblem& p = l.problem;
  p.kind = l.kind;
  p.n = static_cast<int>(v["SHAPE_N"]);
  p.k = static_cast<int>(v["SHAPE_K"]);
  if (l.kind == GemmKind::fp8_1d2d) {
    p.layout = static_cast<GemmLayout>(v["kGemmType"]);
    p.num_groups = static_cast<int>(v["kNumGroups"]);
  } else {
    p.out_fp32 = v["kOutFP32"] != 0;
  }
  GemmConfig& c = l.config;
  c.block_m = static_cast<int>(v["BLOCK_M"]);
  c.block_n = static_cast<int>(v["BLOCK_N"]);
  c.block_k = l.kind == GemmKind::fp8_1d2d ? 128 : 64;
  c.num_stages = static_cast<int>(v["kNumStages"]);
  c.num_multicast = static_cast<int>(v["kNumMulticast"]);
  c.multicast_on_a = v["kMulticastOnA"] != 0;
  c.swizzle_d_bytes = static_cast<int>(v["kSwizzleDBytes"]);
  c.num_sms = static_cast<int>(v["NUM_SMS"]);
  c.smem_bytes = gemm_smem_bytes(l.kind, c.block_m, c.block_n, c.num_stages, p.out_fp32);
  p.m = 4096;
  p.align_m = c.block_m;
  return l;
}

// The DeepSeek-V3 set's GEMMs (dense and the MoE layers' grouped ones) and the BF16 kernels
// the heuristic picks for the same shapes.
std::vector<jit::KernelSpec> gemm_specs() {
  const DeviceInfo target = default_target_device();
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  auto add = [&](const jit::KernelSpec& s) {
    if (s.family == "gemm" && seen.insert(s.canonical()).second) specs.push_back(s);
  };
  for (const auto& s : deepseek_v3_specs(target)) add(s);
  for (const auto& shape : find_op_family("gemm_fp8").deepseek_v3_shapes()) {
    nlohmann::json s = shape;
    s["op"] = "gemm_bf16";
    for (const char* out : {"bf16", "f32"}) {
      s["out"] = out;
      for (const auto& spec : find_op_family("gemm_bf16").specs_for(s, target)) add(spec);
    }
  }
  return specs;
}

TEST(GemmLayout, LaunchThreadsAreTheKernelsLaunchBounds) {
  const auto specs = gemm_specs();
  ASSERT_FALSE(specs.empty());
  for (const auto& spec : specs) {
    SCOPED_TRACE(spec.canonical());
    const GemmLaunch l = launch_of(spec);
    EXPECT_EQ(ptx_max_threads(compiled(spec).ptx), l.config.threads());
    EXPECT_EQ(l.config.threads(), (l.config.block_m / 64 + 1) * 128)
        << "one producer warp group and one math warp group per 64 rows";
  }
}

TEST(GemmLayout, LaunchSharedMemoryCoversTheLayoutAndFitsTheDevice) {
  const DeviceInfo target = default_target_device();
  for (const auto& spec : gemm_specs()) {
    SCOPED_TRACE(spec.canonical());
    const GemmLaunch l = launch_of(spec);
    const GemmConfig& c = l.config;
    std::string why;
    EXPECT_TRUE(gemm_config_valid(l.problem, c, target, &why)) << why;
    const kernels::GemmSmemLayout layout =
        l.kind == GemmKind::fp8_1d2d
            ? kernels::fp8_gemm_smem(c.block_m, c.block_n, c.num_stages)
            : kernels::bf16_gemm_smem(c.block_m, c.block_n, c.num_stages, l.problem.out_fp32);
    // The output tile plus every stage's operands, barriers and the 1 KiB alignment slack.
    EXPECT_GE(c.smem_bytes, layout.d + c.num_stages * (layout.a + layout.b + layout.sa) +
                                layout.barriers + 1024);
    // The kernel's own layout size, as compiled (its Smem struct's kTotal, in the PTX).
    const jit::CompileResult& r = compiled(spec);
    const long long kernel_total = ptx_member_value(r.ptx, "GemmSmem", "kTotal");
    ASSERT_GT(kernel_total, 0);
    EXPECT_GE(c.smem_bytes, kernel_total + 1024);
    EXPECT_LE(r.static_smem_bytes + c.smem_bytes, target.max_smem_per_block_optin);
  }
}

TEST(GemmLayout, DefinitionsRejectStagesThatDoNotFit) {
  const jit::KernelDefinition& fp8 = gemm_definition(GemmKind::fp8_1d2d);
  // 128 x 128 tiles: 5 stages fit (199,248 B + 1 KiB), 6 do not (232,544 B + 1 KiB).
  const std::vector<long long> fits = {0, 4096, 7168, 128, 128, 5, 1, 0, 128, 132, 0, 1};
  std::vector<long long> too_deep = fits;
  too_deep[5] = 6;
  EXPECT_EQ(fp8.violation(fits), "");
  EXPECT_NE(fp8.violation(too_deep).find("fit in shared memory"), std::string::npos)
      << fp8.violation(too_deep);
  const jit::KernelDefinition& bf16 = gemm_definition(GemmKind::bf16);
  EXPECT_NE(bf16.violation({0, 4096, 7168, 128, 256, 4, 1, 0, 128, 132, 1}).find("fit in shared"),
            std::string::npos);
}

}  // namespace
}  // namespace shapejit::runtime
