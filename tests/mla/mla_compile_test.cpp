// Every kernel of the DeepSeek-V3 MLA set compiles for sm_90a with NVRTC, without spills or
// local memory, on both load paths of the split kernel; its PTX has the wgmma instructions (QKᵀ
// and the transposed-B PV) and ptxas had to insert no warpgroup.arrive of its own (C7519:
// accumulators touched between fence and MMA, which serialises the MMAs). The default split
// kernel loads with cp.async (BF16) or plain non-allocating loads (FP8); the TMA one loads Q and
// BF16 KV tiles with TMA and FP8 rows with bulk copies.
// specs_for returns exactly what a runtime call loads.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "shapejit/jit/compiler.hpp"
#include "support/compiled.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {
namespace {

using shapejit::testing::compiled;

void expect_clean(const jit::KernelSpec& spec) {
  SCOPED_TRACE(spec.canonical());
  const jit::CompileResult& r = compiled(spec);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
  EXPECT_EQ(r.stack_frame_bytes, 0);
  EXPECT_EQ(r.ptx.find("ld.local"), std::string::npos);
  EXPECT_EQ(r.ptx.find("st.local"), std::string::npos);
  EXPECT_GT(r.registers, 0);
  const bool tma = spec.kernel == "mla_decode_split_tma";
  if (spec.kernel != "mla_decode_split" && !tma) return;
  EXPECT_NE(r.ptx.find("wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16"), std::string::npos);
  EXPECT_NE(r.ptx.find("wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16"), std::string::npos);
  EXPECT_NE(r.ptx.find("setmaxnreg"), std::string::npos);
  EXPECT_NE(r.ptx.find("mbarrier.try_wait"), std::string::npos);
  EXPECT_LE(r.registers, 168);   // 384 threads, one CTA per SM
  EXPECT_NE(r.ptx.find("p, 1, 1, 0, 1;"), std::string::npos) << "PV must read V MN-major";
  EXPECT_EQ(r.log.find("C7519"), std::string::npos) << r.log;
  const bool fp8 = spec.args.at(3) == "true";
  if (tma) {
    EXPECT_NE(r.ptx.find("cp.async.bulk.tensor.3d.shared::cluster.global"), std::string::npos)
        << "Q is loaded with TMA";
    if (fp8)
      EXPECT_NE(r.ptx.find("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"),
                std::string::npos) << "FP8 KV rows are bulk copies";
    else
      EXPECT_NE(r.ptx.find("cp.async.bulk.tensor.2d.shared::cluster.global"), std::string::npos)
          << "BF16 KV tiles are TMA loads";
    EXPECT_EQ(r.ptx.find("cp.async.cg"), std::string::npos) << "no per-thread KV copies";
  } else {
    EXPECT_EQ(r.ptx.find("cp.async.bulk"), std::string::npos) << "no TMA or bulk copies";
    if (fp8)
      EXPECT_NE(r.ptx.find("ld.global.nc.L1::no_allocate.v4.u32"), std::string::npos)
          << "FP8 KV rows are loaded by the producer threads";
    else
      EXPECT_NE(r.ptx.find("cp.async.cg.shared.global"), std::string::npos)
          << "BF16 Q and KV tiles are cp.async copies";
  }
}

TEST(MlaCompile, EveryDeepSeekV3VariantCompilesWithoutSpills) {
  const DeviceInfo target = default_target_device();
  const OpFamily& family = find_op_family("mla_decode");
  std::set<std::string> seen;
  int splits = 0;
  for (const auto& shape : family.deepseek_v3_shapes())
    for (const auto& s : family.specs_for(shape, target))
      if (seen.insert(s.canonical()).second) {
        expect_clean(s);
        splits += s.kernel == "mla_decode_split";
      }
  EXPECT_EQ(splits, 16);   // h_q {16,32,64,128} × s_q {1,2} × {BF16, FP8}
}

// The TMA load path is not in the default set; every DeepSeek-V3 shape compiles on it too.
TEST(MlaCompile, EveryDeepSeekV3VariantCompilesWithoutSpillsOnTheTmaPath) {
  const DeviceInfo target = default_target_device();
  int splits = 0;
  for (MlaKvDtype dtype : {MlaKvDtype::bf16, MlaKvDtype::fp8_e4m3})
    for (int h_q : {16, 32, 64, 128})
      for (int s_q : {1, 2}) {
        const auto specs = mla_kernel_specs(MlaConfig{h_q, s_q, 64, dtype, MlaLoadPath::tma}, target);
        ASSERT_EQ(specs.size(), 3u);
        EXPECT_EQ(specs[1].kernel, "mla_decode_split_tma");
        expect_clean(specs[1]);
        ++splits;
      }
  EXPECT_EQ(splits, 16);
}

TEST(MlaCompile, TheDefaultSetUsesTheCpAsyncSplitKernel) {
  for (const auto& s : runtime::deepseek_v3_specs(default_target_device()))
    EXPECT_NE(s.kernel, "mla_decode_split_tma") << s.canonical();
  EXPECT_EQ(MlaConfig{}.load_path, MlaLoadPath::cp_async);
}

TEST(MlaCompile, OtherPageSizesAndQueryLengthsCompile) {
  const DeviceInfo target = default_target_device();
  for (int page : {16, 32, 128})
    for (const auto& s : mla_kernel_specs(MlaConfig{64, 4, page, MlaKvDtype::bf16}, target))
      expect_clean(s);
  for (const auto& s : mla_kernel_specs(MlaConfig{16, 4, 16, MlaKvDtype::fp8_e4m3}, target))
    expect_clean(s);
  for (MlaLoadPath path : {MlaLoadPath::cp_async, MlaLoadPath::tma})
    for (const MlaConfig& c : {MlaConfig{64, 4, 16, MlaKvDtype::bf16, path},
                               MlaConfig{64, 1, 16, MlaKvDtype::fp8_e4m3, path}})
      expect_clean(mla_kernel_specs(c, target)[1]);
}

TEST(MlaCompile, SpecsForAreTheRuntimeSpecs) {
  const DeviceInfo target = default_target_device();
  const MlaConfig c{64, 2, 64, MlaKvDtype::fp8_e4m3};
  const auto from_op = find_op_family("mla_decode").specs_for(
      {{"op", "mla_decode"}, {"h_q", 64}, {"s_q", 2}, {"page_size", 64}, {"kv_dtype", "fp8_e4m3"}},
      target);
  EXPECT_EQ(from_op, mla_kernel_specs(c, target));
  ASSERT_EQ(from_op.size(), 3u);
  const int parts = mla_num_sm_parts(c, target.num_sms);
  EXPECT_EQ(from_op[0].canonical(), "mla/mla_decode_metadata<" + std::to_string(parts) + ">@sm_90a");
  EXPECT_EQ(from_op[1].canonical(),
            "mla/mla_decode_split<64,2,64,true," + std::to_string(target.num_sms) + ">@sm_90a");
  EXPECT_EQ(from_op[2].canonical(),
            "mla/mla_decode_combine<64,2," + std::to_string(parts) + ">@sm_90a");
}

TEST(MlaCompile, TheLoadPathFieldChoosesTheSplitKernel) {
  const DeviceInfo target = default_target_device();
  const OpFamily& family = find_op_family("mla_decode");
  const nlohmann::json base = {{"op", "mla_decode"}, {"h_q", 64}, {"s_q", 2}};
  nlohmann::json tma = base, cp_async = base;
  tma["load_path"] = "tma";
  cp_async["load_path"] = "cp_async";
  EXPECT_EQ(family.specs_for(base, target)[1].kernel, "mla_decode_split");
  EXPECT_EQ(family.specs_for(cp_async, target), family.specs_for(base, target));
  const auto specs = family.specs_for(tma, target);
  EXPECT_EQ(specs[1].kernel, "mla_decode_split_tma");
  EXPECT_EQ(specs, mla_kernel_specs(MlaConfig{64, 2, 64, MlaKvDtype::bf16, MlaLoadPath::tma}, target));
  nlohmann::json bad = base;
  bad["load_path"] = "dma";
  try {
    family.specs_for(bad, target);
    ADD_FAILURE() << "load_path 'dma' accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("load_path"), std::string::npos) << e.what();
  }
}

TEST(MlaCompile, BadShapesAreRejectedNamingTheField) {
  const DeviceInfo target = default_target_device();
  const OpFamily& family = find_op_family("mla_decode");
  EXPECT_THROW(family.specs_for({{"op", "mla_decode"}, {"h_q", 24}}, target), Error);
  EXPECT_THROW(family.specs_for({{"op", "mla_decode"}, {"page_size", 256}}, target), Error);
  EXPECT_THROW(family.specs_for({{"op", "mla_decode"}, {"kv_dtype", "fp16"}}, target), Error);
  EXPECT_THROW(family.specs_for({{"op", "mla_decode"}, {"s_q", "two"}}, target), Error);
}

}  // namespace
}  // namespace shapejit::runtime
