#include "family_catalogs.hpp"

namespace shapejit::jit {

// The MLA decode family (templates/mla/): the scheduler (metadata), the split-KV attention
// kernel and the LSE combine. See runtime/include/shapejit/runtime/mla.hpp and docs/mla.md.
std::vector<KernelTemplate> mla_kernel_templates() {
  return {
      {"mla", "mla_decode_metadata", "mla/decode_metadata.cuh", {"NUM_SM_PARTS"}},
      {"mla", "mla_decode_split", "mla/decode_split.cuh",
       {"H_Q", "S_Q", "PAGE_SIZE", "KV_FP8", "NUM_SMS"}},
      {"mla", "mla_decode_combine", "mla/decode_combine.cuh", {"H_Q", "S_Q", "NUM_SM_PARTS"}},
  };
}

}  // namespace shapejit::jit
