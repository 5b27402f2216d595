#include "family_catalogs.hpp"

namespace shapejit::jit {

std::vector<KernelTemplate> gemm_kernel_templates() { return {}; }

}  // namespace shapejit::jit
