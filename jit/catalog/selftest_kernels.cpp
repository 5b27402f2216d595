#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {

// Kernels that exercise the compiler's failure paths; the test suite compiles them.
std::vector<KernelDefinition> selftest_kernel_definitions() {
  const KernelParam n = int_param("N", -1000000, 1000000, 1, "test input");
  KernelDefinition fails{.family = "selftest", .kernel = "static_assert_fails", .header = "selftest/failure_cases.cuh",
      .summary = "fails to compile"};
  KernelDefinition slow{.family = "selftest", .kernel = "slow_to_compile", .header = "selftest/failure_cases.cuh",
      .summary = "compiles for a long time"};
  KernelDefinition crash{.family = "selftest", .kernel = "wgmma_constant_descriptors", .header = "selftest/failure_cases.cuh",
      .summary = "crashes the compiler"};
  for (auto* d : {&fails, &slow, &crash}) d->params = {n};
  return {fails, slow, crash};
}

}  // namespace shapejit::jit
