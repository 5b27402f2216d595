#include "moe/row_tile.cuh"
#include "shapejit/jit/kernel_definition.hpp"

namespace shapejit::jit {
namespace {

using kernels::moe_tile_fits_block;
using kernels::moe_tile_whole_warps;

// The tiled kernels' launch shape (templates/moe/row_tile.cuh). 16 columns and one row per
// block is the proven kernels' launch; the other values are tuning candidates.
KernelParam cols_per_thread() {
  return one_of_param("COLS_PER_THREAD", {8, 16, 32}, "columns each thread owns (16-byte BF16 loads)");
}
KernelParam rows_per_block() {
  return one_of_param("ROWS_PER_BLOCK", {1, 2, 4, 8}, "rows (tokens) each block covers, one row per thread group");
}

int width(const ParamValues& v, std::string_view name) { return static_cast<int>(v[name]); }
int cols(const ParamValues& v) { return static_cast<int>(v["COLS_PER_THREAD"]); }
int rows(const ParamValues& v) { return static_cast<int>(v["ROWS_PER_BLOCK"]); }

// A row is whole warps (its quantization groups' shuffles and early exits stay inside it) and
// a block at most 1024 threads; written once per width parameter's name.
template <const char* kWidth>
std::vector<KernelRule> tile_rules(std::string_view whole_warps, std::string_view fits_block) {
  return {{whole_warps, [](const ParamValues& v) { return moe_tile_whole_warps(width(v, kWidth), cols(v)); }},
          {fits_block, [](const ParamValues& v) { return moe_tile_fits_block(width(v, kWidth), cols(v), rows(v)); }}};
}
constexpr char kHidden[] = "HIDDEN";
constexpr char kIntermediate[] = "INTERMEDIATE";

}  // namespace

// The MoE family (templates/moe/): routing layout (two steps), dispatch with FP8
// quantization, SwiGLU with FP8 quantization, and combine. The grouped GEMMs belong to gemm.
std::vector<KernelDefinition> moe_kernel_definitions() {
  const KernelParam experts = int_param("NUM_EXPERTS", 1, 1024, 1, "experts on this rank");
  const KernelParam top_k = int_param("TOP_K", 1, 64, 1, "experts per token");
  const KernelParam tokens = int_param("TOKENS_PER_BLOCK", 1, 1 << 20, 1, "tokens per routing block");
  // One thread per 16 elements, at most 1024 threads.
  const KernelParam hidden = int_param("HIDDEN", 512, 16384, 512, "model width");
  const KernelParam m_major = bool_param("SCALE_M_MAJOR", "scales M-major (what the GEMMs read)");
  KernelDefinition count{.family = "moe", .kernel = "moe_route_count", .header = "moe/route_count.cuh",
      .summary = "counts routed entries per expert and block"};
  count.params = {experts, top_k, tokens};
  KernelDefinition layout{.family = "moe", .kernel = "moe_route_layout", .header = "moe/route_layout.cuh",
      .summary = "expert-major row of every routed entry"};
  layout.params = {experts, top_k, tokens,
                   int_param("ALIGN_M", 1, 1024, 1, "rows each expert's block is aligned to"),
                   bool_param("MASKED", "masked layout (one M_max slab per expert)")};
  KernelDefinition dispatch{.family = "moe", .kernel = "moe_dispatch_fp8", .header = "moe/dispatch_fp8.cuh",
      .summary = "copies each token to its expert rows, quantized to FP8 1x128"};
  dispatch.params = {hidden, top_k, m_major};
  KernelDefinition swiglu{.family = "moe", .kernel = "moe_swiglu_fp8", .header = "moe/swiglu_fp8.cuh",
      .summary = "SiLU(gate) * up, quantized to FP8 1x128"};
  swiglu.params = {int_param("INTERMEDIATE", 512, 16384, 512, "expert intermediate width"), m_major};
  KernelDefinition combine{.family = "moe", .kernel = "moe_combine", .header = "moe/combine.cuh",
      .summary = "weighted FP32 sum of each token's expert rows"};
  combine.params = {hidden, top_k};
  // The same three steps with the launch shape as parameters: tuning candidates beside the
  // proven kernels above, which stay the default (docs/moe.md, "Launch shapes").
  KernelDefinition dispatch_tiled{.family = "moe", .kernel = "moe_dispatch_fp8_tiled",
      .header = "moe/dispatch_fp8_tiled.cuh",
      .summary = "moe_dispatch_fp8 with COLS_PER_THREAD columns a thread and ROWS_PER_BLOCK tokens a block"};
  dispatch_tiled.params = {hidden, top_k, m_major, cols_per_thread(), rows_per_block()};
  dispatch_tiled.rules = tile_rules<kHidden>(
      "a token row is whole warps: HIDDEN is a multiple of 32 x COLS_PER_THREAD",
      "at most 1024 threads a block: ROWS_PER_BLOCK x HIDDEN / COLS_PER_THREAD <= 1024");
  KernelDefinition swiglu_tiled{.family = "moe", .kernel = "moe_swiglu_fp8_tiled",
      .header = "moe/swiglu_fp8_tiled.cuh",
      .summary = "moe_swiglu_fp8 with COLS_PER_THREAD columns a thread and ROWS_PER_BLOCK rows a block"};
  swiglu_tiled.params = {swiglu.params[0], m_major, cols_per_thread(), rows_per_block()};
  swiglu_tiled.rules = tile_rules<kIntermediate>(
      "a row is whole warps: INTERMEDIATE is a multiple of 32 x COLS_PER_THREAD",
      "at most 1024 threads a block: ROWS_PER_BLOCK x INTERMEDIATE / COLS_PER_THREAD <= 1024");
  KernelDefinition combine_tiled{.family = "moe", .kernel = "moe_combine_tiled", .header = "moe/combine_tiled.cuh",
      .summary = "moe_combine with COLS_PER_THREAD columns a thread and ROWS_PER_BLOCK tokens a block"};
  combine_tiled.params = {hidden, top_k, cols_per_thread(), rows_per_block()};
  combine_tiled.rules = tile_rules<kHidden>(
      "a token row is whole warps: HIDDEN is a multiple of 32 x COLS_PER_THREAD",
      "at most 1024 threads a block: ROWS_PER_BLOCK x HIDDEN / COLS_PER_THREAD <= 1024");
  return {count, layout, dispatch, swiglu, combine, dispatch_tiled, swiglu_tiled, combine_tiled};
}

}  // namespace shapejit::jit
