#include <gtest/gtest.h>

#include <set>

#include "shapejit/jit/compiler.hpp"
#include "shapejit/runtime/op_registry.hpp"

using namespace shapejit;

// One kernel of every registered operator family compiles for sm_90a without spills; the
// families' own suites compile their full sets.
TEST(OpFamilies, EveryFamilyCompilesForSm90a) {
  const runtime::DeviceInfo target = runtime::default_target_device();
  std::set<std::string> kernels_seen;
  for (const auto& family : runtime::op_families()) {
    const auto shapes = family.deepseek_v3_shapes();
    if (shapes.empty()) continue;   // not part of the built-in set (e.g. BF16 GEMM)
    for (const auto& spec : family.specs_for(shapes.front(), target)) {
      if (!kernels_seen.insert(spec.family + "/" + spec.kernel).second) continue;
      SCOPED_TRACE(spec.canonical());
      const jit::CompileResult r = jit::compile_in_process(spec, false);
      EXPECT_FALSE(r.cubin.empty());
      EXPECT_EQ(r.spill_store_bytes + r.spill_load_bytes, 0);
      EXPECT_EQ(r.stack_frame_bytes, 0);
    }
  }
  EXPECT_GE(kernels_seen.size(), 4u);   // quant, gemm, moe kernels at least
}
