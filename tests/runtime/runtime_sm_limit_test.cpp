// A runtime's SM limit (RuntimeOptions::num_sms, Runtime::set_num_sms) is what the heuristics
// see: it changes the persistent grids and SM partitions of the specs the ops pick.
#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {
namespace {

RuntimeOptions memory_only(int num_sms) {
  RuntimeOptions o;
  o.use_cache = false;
  o.num_sms = num_sms;
  return o;
}

long long value(const jit::KernelSpec& spec, std::string_view param) {
  return jit::find_kernel_definition(spec.family, spec.kernel).values(spec)[param];
}

GemmFp8Args dense_gemm() {
  GemmFp8Args a;
  a.m = 4096;
  a.n = 7168;
  a.k = 2048;
  return a;
}

TEST(RuntimeSmLimit, ZeroMeansEverySmOfTheDevice) {
  Runtime runtime(memory_only(0));
  const DeviceInfo dev = default_target_device();
  EXPECT_EQ(runtime.num_sms(), 0);
  EXPECT_EQ(runtime.target(dev).num_sms, dev.num_sms);
  EXPECT_EQ(value(gemm_spec(dense_gemm(), runtime.target(dev)), "NUM_SMS"), dev.num_sms);
}

TEST(RuntimeSmLimit, TheLimitSizesTheGemmGrid) {
  Runtime runtime(memory_only(100));
  const DeviceInfo dev = default_target_device();
  ASSERT_GT(dev.num_sms, 100);
  EXPECT_EQ(value(gemm_spec(dense_gemm(), runtime.target(dev)), "NUM_SMS"), 100);
  runtime.set_num_sms(66);
  EXPECT_EQ(runtime.num_sms(), 66);
  EXPECT_EQ(value(gemm_spec(dense_gemm(), runtime.target(dev)), "NUM_SMS"), 66);
  for (const auto& spec : moe_grouped_gemm_specs(MoeConfig{}, 4096, runtime.target(dev)))
    EXPECT_EQ(value(spec, "NUM_SMS"), 66) << spec.canonical();
  runtime.set_num_sms(0);
  EXPECT_EQ(value(gemm_spec(dense_gemm(), runtime.target(dev)), "NUM_SMS"), dev.num_sms);
}

TEST(RuntimeSmLimit, TheLimitSizesTheMlaPartitions) {
  Runtime runtime(memory_only(100));
  const MlaConfig c{128, 1, 64, MlaKvDtype::bf16};   // two 64-row query tiles per request
  const auto specs = mla_kernel_specs(c, runtime.target(default_target_device()));
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(value(specs[0], "NUM_SM_PARTS"), 50);
  EXPECT_EQ(value(specs[1], "NUM_SMS"), 100);
  EXPECT_EQ(value(specs[2], "NUM_SM_PARTS"), 50);
}

TEST(RuntimeSmLimit, OutOfRangeLimitsAreRefusedByName) {
  Runtime runtime(memory_only(0));
  EXPECT_THROW(runtime.set_num_sms(-1), Error);
  EXPECT_THROW(runtime.set_num_sms(4096), Error);
  runtime.set_num_sms(200);
  const DeviceInfo dev = default_target_device();
  try {
    runtime.target(dev);
    FAIL() << "200 SMs exceed the device's";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("exceeds the " + std::to_string(dev.num_sms) + " SMs"),
              std::string::npos)
        << e.what();
  }
  Runtime negative(memory_only(-2));
  EXPECT_THROW(negative.num_sms(), Error);
}

}  // namespace
}  // namespace shapejit::runtime
