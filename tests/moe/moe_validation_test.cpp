// Every MoE entry point rejects bad input before any driver call, with an error naming the
// problem; these run without a GPU.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/op_registry.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {

void expect_invalid(const std::function<void()>& call, const std::string& names) {
  try {
    call();
    FAIL() << "accepted; expected an error naming '" << names << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

// Plausible device addresses: never dereferenced, the checks reject before any launch.
constexpr CUdeviceptr kAddr = 0x7f0000000000ull;

struct Args {
  MoeConfig c;
  int T = 64;
  MoeRouting r{kAddr, kAddr + 0x1000, kAddr + 0x2000, kAddr + 0x3000, kAddr + 0x4000, kAddr + 0x5000};
  MoeFp8Rows xq{kAddr + 0x100000, kAddr + 0x200000, 0};
  MoeFp8Rows aq{kAddr + 0x300000, kAddr + 0x400000, 0};
  MoeWeights w{kAddr + 0x500000, kAddr + 0x600000, kAddr + 0x700000, kAddr + 0x800000};
  Args() {
    xq.scale_stride = aq.scale_stride = moe_scale_stride(c, T);
  }
};

}  // namespace

TEST(MoeValidation, ConfigFieldsOutOfRangeAreNamed) {
  auto with = [](auto edit) { MoeConfig c; edit(c); return c; };
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.hidden = 7000; })); }, "hidden");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.intermediate = 0; })); }, "intermediate");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.num_experts = 0; })); }, "num_experts");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.num_experts = 2000; })); }, "num_experts");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.top_k = 0; })); }, "top_k");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.expert_begin = -3; })); }, "expert_begin");
  expect_invalid([&] { validate(with([](MoeConfig& c) { c.align_m = 96; })); }, "align_m");
  expect_invalid([&] {
    validate(with([](MoeConfig& c) { c.layout = MoeLayout::masked; c.max_tokens_per_expert = 100; }));
  }, "max_tokens_per_expert");
  EXPECT_NO_THROW(validate(MoeConfig{}));
}

TEST(MoeValidation, RouteNamesNullAndMisalignedBuffers) {
  Args a;
  expect_invalid([&] { moe_route(a.c, a.T, 0, a.r); }, "topk_idx is null");
  expect_invalid([&] { moe_route(a.c, a.T, kAddr + 2, a.r); }, "topk_idx must be 4-byte aligned");
  expect_invalid([&] { moe_route(a.c, -1, kAddr, a.r); }, "num_tokens");
  auto r = a.r;
  r.m_indices = 0;
  expect_invalid([&] { moe_route(a.c, a.T, kAddr, r); }, "routing.m_indices is null");
  r = a.r;
  r.block_counts = 0;
  expect_invalid([&] { moe_route(a.c, a.T, kAddr, r); }, "routing.block_counts");
}

TEST(MoeValidation, DispatchNamesTheBadArgument) {
  Args a;
  expect_invalid([&] { moe_dispatch(a.c, a.T, kAddr + 8, a.r, a.xq); }, "x must be 16-byte aligned");
  auto xq = a.xq;
  xq.scale_stride = 16;
  expect_invalid([&] { moe_dispatch(a.c, a.T, kAddr, a.r, xq); }, "xq.scale_stride");
  xq = a.xq;
  xq.scale_stride += 2;
  expect_invalid([&] { moe_dispatch(a.c, a.T, kAddr, a.r, xq); }, "multiple of 4");
  xq = a.xq;
  xq.data = 0;
  expect_invalid([&] { moe_dispatch(a.c, a.T, kAddr, a.r, xq); }, "xq.data is null");
  MoeConfig bad = a.c;
  bad.hidden = 1000;
  expect_invalid([&] { moe_dispatch(bad, a.T, kAddr, a.r, a.xq); }, "hidden = 1000");
}

TEST(MoeValidation, SwigluGemmAndCombineNameTheBadArgument) {
  Args a;
  expect_invalid([&] { moe_swiglu(a.c, a.T, kAddr + 4, a.r, a.aq); }, "h must be 16-byte aligned");
  auto w = a.w;
  w.w13_scales = 0;
  expect_invalid([&] { moe_gate_up(a.c, a.T, a.xq, w, a.r, kAddr); }, "weights.w13_scales is null");
  w = a.w;
  w.w2 = kAddr + 1;
  expect_invalid([&] { moe_down(a.c, a.T, a.aq, w, a.r, kAddr); }, "weights.w2 must be 16-byte aligned");
  expect_invalid([&] { moe_combine(a.c, a.T, kAddr, a.r, 0, kAddr); }, "topk_weights is null");
  expect_invalid([&] { moe_combine(a.c, a.T, kAddr, a.r, kAddr, kAddr + 8); }, "out must be 16-byte aligned");
}

TEST(MoeValidation, ZeroTokensIsANoOpThatTouchesNoDriver) {
  Args a;
  EXPECT_NO_THROW(moe_route(a.c, 0, kAddr, a.r));
  EXPECT_NO_THROW(moe_dispatch(a.c, 0, kAddr, a.r, a.xq));
  EXPECT_NO_THROW(moe_combine(a.c, 0, kAddr, a.r, kAddr, kAddr));
}

TEST(MoeValidation, WorkspaceSizeCoversEveryBuffer) {
  MoeConfig c;   // DeepSeek-V3, 32 local experts
  const std::size_t bytes = MoeWorkspace::bytes_needed(c, 4096);
  const std::int64_t rows = moe_num_rows(c, 4096);
  EXPECT_EQ(rows, (4096LL * 8 + 32 * 127 + 127) / 128 * 128);
  // xq + h + aq + y alone.
  EXPECT_GE(bytes, static_cast<std::size_t>(rows * (7168 + 4096 * 2 + 2048 + 7168 * 2)));
  expect_invalid([&] { MoeWorkspace::bytes_needed(c, 0); }, "max_tokens");
}

TEST(MoeOps, ManifestShapeGivesTheRuntimeSpecsAndNamesBadFields) {
  const OpFamily& f = find_op_family("moe_layer");
  const DeviceInfo target = default_target_device();
  MoeConfig c;
  c.num_experts = 16;
  const auto specs = f.specs_for({{"op", "moe_layer"}, {"hidden", 7168}, {"intermediate", 2048},
                                  {"num_experts", 16}, {"top_k", 8}, {"num_tokens", 4096}},
                                 target);
  // The MoE-family kernels, then the two grouped GEMMs a 4096-token call loads.
  auto expected = moe_kernel_specs(c, target);
  for (auto& s : moe_grouped_gemm_specs(c, 4096, target)) expected.push_back(s);
  EXPECT_EQ(specs, expected);
  ASSERT_EQ(specs.size(), 7u);
  EXPECT_EQ(specs[5].family, "gemm");
  EXPECT_EQ(specs[6].family, "gemm");
  EXPECT_EQ(specs[0].canonical(), "moe/moe_route_count<16,8,512>@sm_90a");
  EXPECT_EQ(specs[2].canonical(), "moe/moe_dispatch_fp8<7168,8,true>@sm_90a");
  expect_invalid([&] { f.specs_for({{"op", "moe_layer"}, {"hidden", 7168}}, target); }, "intermediate");
  expect_invalid([&] {
    f.specs_for({{"op", "moe_layer"}, {"hidden", 7168}, {"intermediate", 2048}, {"num_experts", 16},
                 {"top_k", 8}, {"layout", "ragged"}}, target);
  }, "layout");
  expect_invalid([&] {
    f.specs_for({{"op", "moe_layer"}, {"hidden", "7168"}, {"intermediate", 2048}, {"num_experts", 16},
                 {"top_k", 8}}, target);
  }, "hidden");
}

TEST(MoeOps, DeepSeekV3SetCoversEveryExpertParallelDegree) {
  const OpFamily& f = find_op_family("moe_layer");
  std::set<int> experts;
  for (const auto& s : f.deepseek_v3_shapes()) {
    EXPECT_EQ(s["hidden"], 7168);
    EXPECT_EQ(s["intermediate"], 2048);
    EXPECT_EQ(s["top_k"], 8);
    experts.insert(s["num_experts"].get<int>());
  }
  EXPECT_EQ(experts, (std::set<int>{4, 8, 16, 32}));   // EP 64, 32, 16, 8 of 256 experts
}
