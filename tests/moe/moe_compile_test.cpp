// Every MoE kernel variant of the DeepSeek-V3 set compiles for sm_90a with NVRTC: no spills,
// no local memory, and the PTX uses the instructions the design relies on.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "shapejit/jit/compiler.hpp"
#include "support/compiled.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/op_registry.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {

using shapejit::testing::compiled;

std::vector<jit::KernelSpec> dsv3_moe_specs() {
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  const OpFamily& f = find_op_family("moe_layer");
  for (const auto& shape : f.deepseek_v3_shapes())
    for (auto& s : f.specs_for(shape, default_target_device()))
      if (seen.insert(s.canonical()).second) specs.push_back(s);
  return specs;
}

bool has(const std::string& ptx, const std::string& text) { return ptx.find(text) != std::string::npos; }

}  // namespace

TEST(MoeCompile, EveryDeepSeekV3VariantCompilesWithoutSpillsOrLocalMemory) {
  const auto specs = dsv3_moe_specs();
  // 4 expert counts x (count + contiguous layout + masked layout) + dispatch + SwiGLU + combine,
  // plus the grouped GEMMs (compiled by the GEMM family's own suite).
  std::size_t moe_family = 0;
  for (const auto& spec : specs) moe_family += spec.family == "moe";
  EXPECT_EQ(moe_family, 4u * 3u + 3u);
  for (const auto& spec : specs) {
    if (spec.family != "moe") continue;
    SCOPED_TRACE(spec.canonical());
    const jit::CompileResult& r = compiled(spec);
    EXPECT_FALSE(r.cubin.empty());
    EXPECT_EQ(r.spill_store_bytes, 0);
    EXPECT_EQ(r.spill_load_bytes, 0);
    EXPECT_EQ(r.stack_frame_bytes, 0);
    EXPECT_FALSE(has(r.ptx, "ld.local")) << "local loads";
    EXPECT_FALSE(has(r.ptx, "st.local")) << "local stores";
    EXPECT_TRUE(has(r.ptx, ".target sm_90a"));
  }
}

TEST(MoeCompile, DataMovementKernelsUse16ByteAccessesAndFp8Conversion) {
  MoeConfig c;
  const auto specs = moe_kernel_specs(c, default_target_device());
  std::map<std::string, std::string> ptx;
  for (const auto& s : specs) ptx[s.kernel] = compiled(s).ptx;
  // Dispatch: streaming 16-byte BF16 loads, E4M3 conversion, 16-byte FP8 stores.
  EXPECT_TRUE(has(ptx["moe_dispatch_fp8"], "ld.global.nc.L1::no_allocate.v4.u32"));
  EXPECT_TRUE(has(ptx["moe_dispatch_fp8"], "cvt.rn.satfinite.e4m3x2.f32"));
  EXPECT_TRUE(has(ptx["moe_dispatch_fp8"], "st.global.v4.u32"));
  EXPECT_TRUE(has(ptx["moe_swiglu_fp8"], "cvt.rn.satfinite.e4m3x2.f32"));
  EXPECT_TRUE(has(ptx["moe_swiglu_fp8"], "ld.global.nc.L1::no_allocate.v4.u32"));
  // Combine: 16-byte loads of every routed row, BF16 packing, 16-byte stores.
  EXPECT_TRUE(has(ptx["moe_combine"], "ld.global.nc.L1::no_allocate.v4.u32"));
  EXPECT_TRUE(has(ptx["moe_combine"], "cvt.rn.bf16x2.f32"));
  EXPECT_TRUE(has(ptx["moe_combine"], "st.global.v4.u32"));
  // Stable ranking inside a warp.
  EXPECT_TRUE(has(ptx["moe_route_layout"], "match.any.sync"));
}
