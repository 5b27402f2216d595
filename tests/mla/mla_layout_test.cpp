// Host and device agree on every MLA split kernel of the DeepSeek-V3 set, on both load paths:
// the threads a launch uses are the kernel's launch bounds (.maxntid), and the dynamic shared
// memory it asks for is at least the kernel's own layout (its config's kSmemBytes, read from the
// PTX) and, with ptxas's static shared memory, fits the device.
#include <gtest/gtest.h>

#include <set>

#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "support/compiled.hpp"
#include "support/ptx_facts.hpp"

namespace shapejit::runtime {
namespace {

using shapejit::testing::compiled;
using shapejit::testing::ptx_max_threads;
using shapejit::testing::ptx_member_value;

bool is_split(const jit::KernelSpec& s) {
  return s.family == "mla" &&
         (s.kernel == "mla_decode_split" || s.kernel == "mla_decode_split_tma");
}

// The config a split spec was made for.
MlaConfig config_of(const jit::KernelSpec& spec) {
  const jit::ParamValues v = jit::find_kernel_definition("mla", spec.kernel).values(spec);
  MlaConfig c;
  c.num_heads_q = static_cast<int>(v["H_Q"]);
  c.seq_q = static_cast<int>(v["S_Q"]);
  c.page_size = static_cast<int>(v["PAGE_SIZE"]);
  c.kv_dtype = v["KV_FP8"] ? MlaKvDtype::fp8_e4m3 : MlaKvDtype::bf16;
  c.load_path = spec.kernel == "mla_decode_split_tma" ? MlaLoadPath::tma : MlaLoadPath::cp_async;
  return c;
}

// The DeepSeek-V3 set's split kernels, and the same configs on the TMA load path.
std::vector<jit::KernelSpec> split_specs() {
  const DeviceInfo target = default_target_device();
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  for (const auto& s : deepseek_v3_specs(target)) {
    if (!is_split(s)) continue;
    MlaConfig tma = config_of(s);
    tma.load_path = MlaLoadPath::tma;
    for (const auto& v : {s, mla_kernel_specs(tma, target)[1]})
      if (seen.insert(v.canonical()).second) specs.push_back(v);
  }
  return specs;
}

TEST(MlaLayout, EveryDeepSeekV3SplitKernelAgreesWithItsLaunch) {
  const DeviceInfo target = default_target_device();
  const auto specs = split_specs();
  ASSERT_EQ(specs.size(), 32u) << "16 DeepSeek-V3 configs on two load paths";
  for (const auto& spec : specs) {
    SCOPED_TRACE(spec.canonical());
    const jit::CompileResult& r = compiled(spec);
    const MlaSplitLaunch launch = mla_split_launch(config_of(spec));
    const char* config =
        spec.kernel == "mla_decode_split_tma" ? "MlaSplitTmaConfig" : "MlaSplitConfig";
    EXPECT_EQ(ptx_max_threads(r.ptx), launch.threads);
    EXPECT_EQ(ptx_member_value(r.ptx, config, "kThreads"), launch.threads);
    const long long needs = ptx_member_value(r.ptx, config, "kSmemBytes");
    ASSERT_GT(needs, 0) << "the PTX names the kernel's layout size";
    EXPECT_GE(launch.dynamic_smem_bytes, needs);
    EXPECT_LE(r.static_smem_bytes + launch.dynamic_smem_bytes, target.max_smem_per_block_optin);
  }
}

TEST(MlaLayout, EachLoadPathHasItsOwnSharedMemory) {
  const MlaConfig bf16{128, 1, 64, MlaKvDtype::bf16, MlaLoadPath::cp_async};
  MlaConfig fp8_tma = bf16;
  fp8_tma.kv_dtype = MlaKvDtype::fp8_e4m3;
  fp8_tma.load_path = MlaLoadPath::tma;
  // Q 73,728 + 4 KV stages of 36,864 + P 8,192 + exchange 1,024 + 10 barriers + 1 KiB slack.
  EXPECT_EQ(mla_split_launch(bf16).dynamic_smem_bytes, 231504);
  // 3 KV stages and 3 raw FP8 half tiles of 10,496 bytes, 14 barriers.
  EXPECT_EQ(mla_split_launch(fp8_tma).dynamic_smem_bytes, 226160);
  EXPECT_EQ(mla_split_launch(fp8_tma).threads, 384);
}

}  // namespace
}  // namespace shapejit::runtime
