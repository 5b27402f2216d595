#include "family_catalogs.hpp"

namespace shapejit::jit {

std::vector<KernelTemplate> moe_kernel_templates() { return {}; }

}  // namespace shapejit::jit
