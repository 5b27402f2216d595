#include "family_catalogs.hpp"

namespace shapejit::jit {

// Kernels that exercise the compiler's failure paths; the test suite compiles them.
std::vector<KernelTemplate> test_kernel_templates() {
  return {
      {"selftest", "static_assert_fails", "selftest/failure_cases.cuh", {"N"}},
      {"selftest", "slow_to_compile", "selftest/failure_cases.cuh", {"N"}},
      {"selftest", "wgmma_constant_descriptors", "selftest/failure_cases.cuh", {"N"}},
  };
}

}  // namespace shapejit::jit
