// A call given a runtime loads its kernels from that runtime (its own cache database, its SM
// limit), not from Runtime::global().
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "support/gpu_test.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {
namespace {

namespace fs = std::filesystem;

TEST(RuntimeGpu, AGemmCallUsesTheRuntimeItIsGiven) {
  SHAPEJIT_REQUIRE_GPU();
  const fs::path cache = fs::path(::testing::TempDir()) / "shapejit-own-runtime" / "kernels.db";
  fs::remove_all(cache.parent_path());
  RuntimeOptions options;
  options.cache_path = cache;
  options.compile_in_process = true;
  Runtime own(options);
  own.set_num_sms(std::max(1, current_device().num_sms / 2));

  GemmFp8Args a;
  a.m = 128;
  a.n = 256;
  a.k = 128;
  DeviceBuffer A(a.m * a.k), SA(4 * 128), B(a.n * a.k), SB(4 * 2), D(a.m * a.n * 2);
  for (DeviceBuffer* b : {&A, &SA, &B, &SB}) b->fill_bytes(0);
  D.fill_bytes(0xff);   // poison: the call must write every element
  a.a = A.ptr();
  a.a_scales = SA.ptr();
  a.b = B.ptr();
  a.b_scales = SB.ptr();
  a.d = D.ptr();

  const long long global_loads = Runtime::global().stats().loads;
  gemm_fp8_nt(a, nullptr, own);
  SHAPEJIT_CU(driver().cuCtxSynchronize());
  EXPECT_EQ(own.stats().loads, 1);
  EXPECT_EQ(Runtime::global().stats().loads, global_loads);
  EXPECT_TRUE(fs::exists(cache)) << "the kernel went to the runtime's own cache";
  // The spec it loaded is the one for its SM limit.
  const jit::KernelSpec spec = gemm_spec(a, own.target(current_device()));
  EXPECT_EQ(own.fetch(spec).source, CubinSource::memory);
  EXPECT_EQ(D.download<std::uint16_t>(a.m * a.n), std::vector<std::uint16_t>(a.m * a.n, 0));
}

}  // namespace
}  // namespace shapejit::runtime
