#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {

// The expert-parallel exchange family (templates/ep/): the dispatch layout (which ranks each
// token goes to, in three steps), the receive-side permute into the grouped GEMM's expert-major
// FP8 buffer, low-latency mode's overflow count, and the send rows of tokens given already in FP8
// (copied with their scales, from either scale layout). Packing BF16 tokens reuses
// moe_dispatch_fp8 and both
// combine reductions reuse moe_combine; the receive routing reuses moe_route_*.
std::vector<KernelDefinition> ep_kernel_definitions() {
  const KernelParam ranks = int_param("NUM_RANKS", 1, 64, 1, "expert-parallel ranks");
  const KernelParam per_rank = int_param("EXPERTS_PER_RANK", 1, 1024, 1, "physical expert slots per rank");
  const KernelParam top_k = int_param("TOP_K", 1, 32, 1, "experts per token");
  const KernelParam tokens = int_param("TOKENS_PER_BLOCK", 256, 1 << 20, 256, "tokens per layout block");
  const KernelRule slots{"NUM_RANKS * EXPERTS_PER_RANK <= 4096 (shared-memory counters)",
                         [](const ParamValues& v) { return v["NUM_RANKS"] * v["EXPERTS_PER_RANK"] <= 4096; }};

  KernelDefinition layout{.family = "ep", .kernel = "ep_dispatch_layout", .header = "ep/dispatch_layout.cuh",
      .summary = "replica choice, destination ranks and in-chunk positions of every token"};
  layout.params = {ranks, per_rank, top_k, tokens};
  layout.rules = {slots};
  KernelDefinition offsets{.family = "ep", .kernel = "ep_send_offsets", .header = "ep/send_offsets.cuh",
      .summary = "chunk offsets, send offsets and the count-exchange table"};
  offsets.params = {ranks, per_rank};
  offsets.rules = {slots};
  KernelDefinition rows{.family = "ep", .kernel = "ep_send_rows", .header = "ep/send_rows.cuh",
      .summary = "send rows of every token and routing info of every send row"};
  rows.params = {ranks, per_rank, top_k, tokens,
                 bool_param("LOW_LATENCY", "fixed blocks of max_tokens rows per destination")};
  rows.rules = {slots};
  KernelDefinition permute{.family = "ep", .kernel = "ep_recv_permute", .header = "ep/recv_permute.cuh",
      .summary = "received FP8 rows and scales into the expert-major GEMM buffer (M-major scales)"};
  permute.params = {int_param("HIDDEN", 512, 16384, 512, "model width")};
  KernelDefinition overflow{.family = "ep", .kernel = "ep_count_overflow", .header = "ep/count_overflow.cuh",
      .summary = "entries dropped past the low-latency capacity, per local expert"};
  overflow.params = {int_param("NUM_EXPERTS", 1, 1024, 1, "local experts")};
  KernelDefinition fp8_rows{.family = "ep", .kernel = "ep_send_fp8_rows", .header = "ep/send_fp8_rows.cuh",
      .summary = "FP8 tokens and their 1x128 scales copied as given into the send rows (row-major scales)"};
  fp8_rows.params = {int_param("HIDDEN", 512, 16384, 512, "model width"), top_k,
                     bool_param("SCALE_M_MAJOR", "input scales M-major [H/128][stride], else row-major [T][H/128]")};
  return {layout, offsets, rows, permute, overflow, fp8_rows};
}

}  // namespace shapejit::jit
