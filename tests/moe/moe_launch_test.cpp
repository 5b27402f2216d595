// Launch shapes of dispatch, SwiGLU and combine (runtime/moe/moe_launch.hpp): the proven kernels
// stay the default launch, every tiled shape the definitions allow for DeepSeek-V3 (the widths of
// the GPU tests and the search spaces) compiles for sm_90a with NVRTC without spills or local memory,
// the front end's grid and block follow the shape, and shapes the definitions refuse are errors
// naming the broken rule. No GPU needed (tests/moe/moe_gpu_test.cpp runs every shape on one).
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "support/compiled.hpp"

using namespace shapejit;
using namespace shapejit::runtime;

namespace {

using shapejit::testing::compiled;

constexpr MoeStep kSteps[] = {MoeStep::dispatch, MoeStep::swiglu, MoeStep::combine};
constexpr CUdeviceptr kAddr = 0x7f0000000000ull;   // never dereferenced

void expect_invalid(const std::function<void()>& call, const std::string& names) {
  try {
    call();
    FAIL() << "accepted; expected an error naming '" << names << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

}  // namespace

TEST(MoeLaunch, TheDefaultIsTheProvenKernelWithTodaysGridAndBlock) {
  const MoeConfig c;   // DeepSeek-V3
  const DeviceInfo t = default_target_device();
  const MoeLaunch d{};
  EXPECT_FALSE(d.tiled);
  EXPECT_EQ(moe_step_spec(MoeStep::dispatch, c, d, t).canonical(), "moe/moe_dispatch_fp8<7168,8,true>@sm_90a");
  EXPECT_EQ(moe_step_spec(MoeStep::swiglu, c, d, t).canonical(), "moe/moe_swiglu_fp8<2048,true>@sm_90a");
  EXPECT_EQ(moe_step_spec(MoeStep::combine, c, d, t).canonical(), "moe/moe_combine<7168,8>@sm_90a");
  const auto specs = moe_kernel_specs(c, t);
  EXPECT_EQ(specs[2], moe_step_spec(MoeStep::dispatch, c, d, t));
  EXPECT_EQ(specs[3], moe_step_spec(MoeStep::swiglu, c, d, t));
  EXPECT_EQ(specs[4], moe_step_spec(MoeStep::combine, c, d, t));
  // One block per row, one thread per 16 columns: the launch before launch shapes existed.
  EXPECT_EQ(moe_step_threads(MoeStep::dispatch, c, d), 7168 / 16);
  EXPECT_EQ(moe_step_threads(MoeStep::swiglu, c, d), 2048 / 16);
  EXPECT_EQ(moe_step_blocks(d, 300), 300);
}

TEST(MoeLaunch, TiledShapesSetTheGridAndBlock) {
  const MoeConfig c;
  const DeviceInfo t = default_target_device();
  const MoeLaunch l{true, 8, 4};
  EXPECT_EQ(moe_step_spec(MoeStep::swiglu, c, l, t).canonical(), "moe/moe_swiglu_fp8_tiled<2048,true,8,4>@sm_90a");
  EXPECT_EQ(moe_step_threads(MoeStep::swiglu, c, l), 4 * 2048 / 8);
  EXPECT_EQ(moe_step_blocks(l, 301), 76);   // the last block covers one row
  EXPECT_EQ(moe_step_spec(MoeStep::combine, c, {true, 32, 2}, t).canonical(),
            "moe/moe_combine_tiled<7168,8,32,2>@sm_90a");
  EXPECT_EQ(moe_step_threads(MoeStep::combine, c, {true, 32, 2}), 2 * 224);
  EXPECT_EQ(to_string(l), "tiled 8x4");
}

TEST(MoeLaunch, TheDefinitionsListEveryShapeTheyAllowProvenFirst) {
  const MoeConfig c;
  // H = 7168: 8 columns → 896 threads a row (1 row), 16 → 448 (2 rows), 32 → 224 (4 rows).
  const std::vector<MoeLaunch> hidden = {{false, 16, 1}, {true, 8, 1},  {true, 16, 1}, {true, 16, 2},
                                         {true, 32, 1},  {true, 32, 2}, {true, 32, 4}};
  EXPECT_EQ(moe_step_launches(MoeStep::dispatch, c), hidden);
  EXPECT_EQ(moe_step_launches(MoeStep::combine, c), hidden);
  // I = 2048: 256, 128 and 64 threads a row.
  const auto swiglu = moe_step_launches(MoeStep::swiglu, c);
  EXPECT_EQ(swiglu.size(), 1u + 3u + 4u + 4u);
  EXPECT_EQ(swiglu.front(), MoeLaunch{});
  EXPECT_EQ(swiglu.back(), (MoeLaunch{true, 32, 8}));
}

TEST(MoeLaunch, ShapesTheDefinitionsRefuseAreNamedErrors) {
  MoeConfig c;
  const DeviceInfo t = default_target_device();
  expect_invalid([&] { moe_step_spec(MoeStep::dispatch, c, {true, 8, 2}, t); }, "at most 1024 threads a block");
  expect_invalid([&] { moe_step_spec(MoeStep::combine, c, {true, 12, 1}, t); }, "COLS_PER_THREAD = 12 must be one of 8, 16, 32");
  expect_invalid([&] { moe_step_spec(MoeStep::swiglu, c, {true, 16, 3}, t); }, "ROWS_PER_BLOCK = 3");
  expect_invalid([&] { moe_step_spec(MoeStep::dispatch, c, {false, 8, 1}, t); }, "fixed launch shape proven 16x1");
  c.intermediate = 512;   // 32 columns a thread: 16 threads a row, half a warp
  expect_invalid([&] { moe_step_spec(MoeStep::swiglu, c, {true, 32, 1}, t); }, "a row is whole warps");
  // The launch calls check the shape even when there is nothing to launch (no driver touched).
  MoeRouting r{kAddr, kAddr + 0x1000, kAddr + 0x2000, kAddr + 0x3000, kAddr + 0x4000, kAddr + 0x5000};
  const MoeFp8Rows q{kAddr + 0x100000, kAddr + 0x200000, moe_scale_stride(c, 64)};
  expect_invalid([&] { moe_dispatch(c, {true, 8, 4}, 0, kAddr, r, q); }, "at most 1024 threads a block");
  expect_invalid([&] { moe_swiglu(c, {true, 32, 1}, 0, kAddr, r, q); }, "whole warps");
  expect_invalid([&] { moe_combine(c, {true, 16, 5}, 0, kAddr, r, kAddr, kAddr); }, "ROWS_PER_BLOCK = 5");
  EXPECT_NO_THROW(moe_combine(c, {true, 16, 2}, 0, kAddr, r, kAddr, kAddr));
}

// Every tiled variant the GPU tests and the DeepSeek-V3 search spaces use compiles without
// spills or local memory and keeps the 16-byte accesses and the conversions of the proven kernel.
TEST(MoeLaunch, EveryTiledVariantCompilesWithoutSpillsOrLocalMemory) {
  const DeviceInfo t = default_target_device();
  std::set<std::string> seen;
  const MoeConfig c;
  for (MoeStep step : kSteps)
    for (const MoeLaunch& l : moe_step_launches(step, c)) {
      if (!l.tiled) continue;
      const jit::KernelSpec spec = moe_step_spec(step, c, l, t);
      if (!seen.insert(spec.canonical()).second) continue;
      SCOPED_TRACE(spec.canonical());
      const jit::CompileResult& r = compiled(spec);
      EXPECT_FALSE(r.cubin.empty());
      EXPECT_GT(r.registers, 0);
      EXPECT_EQ(r.spill_store_bytes, 0);
      EXPECT_EQ(r.spill_load_bytes, 0);
      EXPECT_EQ(r.stack_frame_bytes, 0) << r.log;
      EXPECT_FALSE(has(r.ptx, "ld.local")) << "local loads";
      EXPECT_FALSE(has(r.ptx, "st.local")) << "local stores";
      // The block the front end launches is the one the kernel was compiled for.
      EXPECT_TRUE(has(r.ptx, ".maxntid " + std::to_string(moe_step_threads(step, c, l)) + ", 1, 1"));
      EXPECT_TRUE(has(r.ptx, "ld.global.nc.L1::no_allocate.v4.u32"));
      if (step == MoeStep::combine) {
        EXPECT_TRUE(has(r.ptx, "cvt.rn.bf16x2.f32"));
        EXPECT_TRUE(has(r.ptx, "st.global.v4.u32"));
      } else {
        EXPECT_TRUE(has(r.ptx, "cvt.rn.satfinite.e4m3x2.f32"));
        // 8 FP8 columns are one 8-byte store, 16 or more are 16-byte stores.
        EXPECT_TRUE(has(r.ptx, l.cols_per_thread == 8 ? "st.global.v2.u32" : "st.global.v4.u32"));
      }
    }
  EXPECT_EQ(seen.size(), 6u + 11u + 6u);
}
