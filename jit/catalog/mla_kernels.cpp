#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {

// The MLA decode family (templates/mla/): the scheduler (metadata), the split-KV attention
// kernel (two load paths) and the LSE combine. See runtime/mla/ and docs/mla.md.
std::vector<KernelDefinition> mla_kernel_definitions() {
  const KernelParam h_q = int_param("H_Q", 1, 128, 1, "query heads");
  const KernelParam s_q = int_param("S_Q", 1, 16, 1, "query tokens per request");
  const KernelParam parts = int_param("NUM_SM_PARTS", 1, 1024, 1, "scheduler partitions");
  KernelDefinition metadata{.family = "mla", .kernel = "mla_decode_metadata", .header = "mla/decode_metadata.cuh",
      .summary = "splits every request's KV over the SM partitions"};
  metadata.params = {parts};
  KernelDefinition split{.family = "mla", .kernel = "mla_decode_split", .header = "mla/decode_split.cuh",
      .summary = "split-KV attention over the paged cache, one partial per split (cp.async loads)"};
  split.params = {h_q, s_q, one_of_param("PAGE_SIZE", {16, 32, 64, 128}, "KV cache page size"),
                  bool_param("KV_FP8", "FP8 E4M3 KV cache (656-byte rows) instead of BF16"),
                  int_param("NUM_SMS", 1, 1024, 1, "persistent grid size")};
  // Not a default until a GPU run proves it (MlaLoadPath::tma chooses it).
  KernelDefinition split_tma{.family = "mla", .kernel = "mla_decode_split_tma",
      .header = "mla/decode_split_tma.cuh",
      .summary = "the split kernel with TMA loads of Q and BF16 KV, bulk copies of FP8 rows"};
  split_tma.params = split.params;
  KernelDefinition combine{.family = "mla", .kernel = "mla_decode_combine", .header = "mla/decode_combine.cuh",
      .summary = "merges the partials of each request by their LSE"};
  combine.params = {h_q, s_q, parts};
  return {metadata, split, split_tma, combine};
}

}  // namespace shapejit::jit
