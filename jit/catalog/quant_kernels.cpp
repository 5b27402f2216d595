#include "family_catalogs.hpp"

namespace shapejit::jit {

std::vector<KernelTemplate> quant_kernel_templates() {
  return {
      {"quant", "per_token_group_quant", "quant/per_token_group_quant.cuh",
       {"K", "GROUP_SIZE", "THREADS"}},
  };
}

}  // namespace shapejit::jit
