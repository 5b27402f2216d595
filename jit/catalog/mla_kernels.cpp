#include "family_catalogs.hpp"

namespace shapejit::jit {

std::vector<KernelTemplate> mla_kernel_templates() { return {}; }

}  // namespace shapejit::jit
