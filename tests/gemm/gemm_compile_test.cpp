// Every kernel the heuristic can choose for the DeepSeek-V3 GEMM shapes compiles for sm_90a
// with NVRTC, without spills or local memory, and its PTX has the wgmma and TMA instructions.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "shapejit/jit/compiler.hpp"
#include "support/compiled.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {
namespace {

using shapejit::testing::compiled;

void expect_clean_kernel(const jit::KernelSpec& spec, const char* operand_type) {
  SCOPED_TRACE(spec.canonical());
  const jit::CompileResult& r = compiled(spec);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
  EXPECT_EQ(r.ptx.find("ld.local"), std::string::npos);
  EXPECT_EQ(r.ptx.find("st.local"), std::string::npos);
  EXPECT_NE(r.ptx.find(std::string("wgmma.mma_async.sync.aligned")), std::string::npos);
  EXPECT_NE(r.ptx.find(operand_type), std::string::npos);
  EXPECT_NE(r.ptx.find("cp.async.bulk.tensor.2d.shared::cluster.global"), std::string::npos);
  EXPECT_NE(r.ptx.find("cp.async.bulk.tensor"), std::string::npos);
  EXPECT_NE(r.ptx.find("setmaxnreg"), std::string::npos);
  EXPECT_GT(r.registers, 0);
}

std::vector<jit::KernelSpec> dsv3_fp8_specs() {
  const DeviceInfo target = default_target_device();
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  for (const auto& shape : find_op_family("gemm_fp8").deepseek_v3_shapes())
    for (auto& s : find_op_family("gemm_fp8").specs_for(shape, target))
      if (seen.insert(s.canonical()).second) specs.push_back(s);
  return specs;
}

TEST(GemmCompile, EveryDeepSeekV3Fp8ConfigCompilesWithoutSpills) {
  const auto specs = dsv3_fp8_specs();
  ASSERT_FALSE(specs.empty());
  for (const auto& s : specs) expect_clean_kernel(s, ".e4m3.e4m3");
}

TEST(GemmCompile, Bf16ConfigsForTheDeepSeekV3ShapesCompileWithoutSpills) {
  const DeviceInfo target = default_target_device();
  std::set<std::string> seen;
  for (const auto& shape : find_op_family("gemm_fp8").deepseek_v3_shapes()) {
    nlohmann::json s = shape;
    s["op"] = "gemm_bf16";
    for (const char* out : {"bf16", "f32"}) {
      s["out"] = out;
      for (auto& spec : find_op_family("gemm_bf16").specs_for(s, target))
        if (seen.insert(spec.canonical()).second) expect_clean_kernel(spec, ".bf16.bf16");
    }
  }
}

TEST(GemmCompile, GroupedVariantsCompileForDeepSeekV3MoeShapes) {
  const DeviceInfo target = default_target_device();
  // Routed experts of DeepSeek-V3: gate/up N = 2·2048, K = 7168; down N = 7168, K = 2048.
  for (auto nk : {std::pair{4096, 7168}, std::pair{7168, 2048}}) {
    for (int m_sum : {128, 4096, 32768}) {
      GemmFp8GroupedContiguousArgs a;
      a.m_sum = m_sum;
      a.n = nk.first;
      a.k = nk.second;
      a.num_groups = 32;
      expect_clean_kernel(gemm_spec(a, target), ".e4m3.e4m3");
    }
    for (int expected : {1, 64, 256}) {
      GemmFp8GroupedMaskedArgs a;
      a.m_max = 256;
      a.expected_m = expected;
      a.n = nk.first;
      a.k = nk.second;
      a.num_groups = 32;
      const auto spec = gemm_spec(a, target);
      expect_clean_kernel(spec, ".e4m3.e4m3");
      EXPECT_NE(compiled(spec).ptx.find("cp.async.bulk.tensor.3d.global.shared::cta"),
                std::string::npos);
    }
  }
}

TEST(GemmCompile, FixedMVariantCompiles) {
  const DeviceInfo target = default_target_device();
  GemmProblem p;
  p.m = 4096;
  p.n = 7168;
  p.k = 2048;
  const auto spec = gemm_kernel_spec(p, choose_gemm_config(p, target), target, 4096);
  EXPECT_EQ(spec.args[0], "4096");
  expect_clean_kernel(spec, ".e4m3.e4m3");
}

TEST(GemmCompile, MulticastVariantsCompileWithoutSpills) {
  const DeviceInfo target = default_target_device();
  for (auto kind : {GemmKind::fp8_1d2d, GemmKind::bf16}) {
    for (bool on_a : {false, true}) {
      GemmProblem p;
      p.kind = kind;
      p.m = 4096;
      p.n = 7168;
      p.k = 2048;
      GemmConfig c = choose_gemm_config(p, target);
      c.num_multicast = 2;
      c.multicast_on_a = on_a;
      const auto spec = gemm_kernel_spec(p, c, target);
      expect_clean_kernel(spec, kind == GemmKind::bf16 ? ".bf16.bf16" : ".e4m3.e4m3");
      EXPECT_NE(compiled(spec).ptx.find(".multicast::cluster"), std::string::npos);
      EXPECT_NE(compiled(spec).ptx.find("mapa.shared::cluster"), std::string::npos);
    }
  }
}

TEST(GemmCompile, ColdCompileIsFast) {
  // A fresh spec (odd N) so nothing is cached in this process.
  GemmProblem p;
  p.m = 256;
  p.n = 1032;
  p.k = 1024;
  const DeviceInfo target = default_target_device();
  const auto r = jit::compile_in_process(gemm_kernel_spec(p, choose_gemm_config(p, target), target),
                                         false);
  EXPECT_LT(r.compile_ms, 5000.0) << "a GEMM compile should take well under a second";
}

}  // namespace
}  // namespace shapejit::runtime
