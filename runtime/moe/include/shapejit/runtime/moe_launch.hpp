#pragma once
// Launch shapes of the MoE data-movement steps (dispatch, SwiGLU, combine), which are memory
// bound: how many columns a thread owns and how many rows a block covers. The proven kernels
// (one row a block, 16 columns a thread) are what a call launches by default; the tiled
// kernels take the shape as template parameters and are tuning candidates until a GPU run
// proves them (docs/moe.md, "Launch shapes"). The overloads below take a shape explicitly, for
// the GPU tests and the tuner's measuring step; they check everything the plain calls check.
#include <optional>
#include <string>
#include <vector>

#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/tuned_configs.hpp"

namespace shapejit::runtime {

enum class MoeStep { dispatch, swiglu, combine };

struct MoeLaunch {
  bool tiled = false;        // false: the proven kernel, whose shape is fixed at 16 x 1
  int cols_per_thread = 16;
  int rows_per_block = 1;
  bool operator==(const MoeLaunch&) const = default;
};
// "proven 16x1", "tiled 8x2" (columns a thread x rows a block).
std::string to_string(const MoeLaunch& launch);

// Columns of one row of the step: hidden (dispatch, combine) or intermediate (SwiGLU).
int moe_step_width(MoeStep step, const MoeConfig& config);
// The spec the step launches with `launch`; the definition's rules are checked, so a shape it
// refuses throws Error(invalid_argument) naming the rule.
jit::KernelSpec moe_step_spec(MoeStep step, const MoeConfig& config, const MoeLaunch& launch,
                              const DeviceInfo& target);
// Threads a block, and blocks for `rows` rows (tokens for dispatch and combine).
int moe_step_threads(MoeStep step, const MoeConfig& config, const MoeLaunch& launch);
int moe_step_blocks(const MoeLaunch& launch, int rows);
// Every shape the definitions allow for the step at this config: the proven launch first, then
// the tiled kernel's in the definition's order (columns, then rows).
std::vector<MoeLaunch> moe_step_launches(MoeStep step, const MoeConfig& config);
// The kernel a launch of the step uses ("moe_dispatch_fp8" or "moe_dispatch_fp8_tiled", ...).
const char* moe_step_kernel(MoeStep step, bool tiled);

void moe_dispatch(const MoeConfig& config, const MoeLaunch& launch, int num_tokens, CUdeviceptr x,
                  const MoeRouting& routing, const MoeFp8Rows& xq, CUstream stream = nullptr,
                  Runtime& runtime = Runtime::global());
void moe_swiglu(const MoeConfig& config, const MoeLaunch& launch, int num_tokens, CUdeviceptr h,
                const MoeRouting& routing, const MoeFp8Rows& aq, CUstream stream = nullptr,
                Runtime& runtime = Runtime::global());
void moe_combine(const MoeConfig& config, const MoeLaunch& launch, int num_tokens, CUdeviceptr y,
                 const MoeRouting& routing, CUdeviceptr topk_weights, CUdeviceptr out,
                 CUstream stream = nullptr, Runtime& runtime = Runtime::global());

// Each step is also an op of its own, for manifests and tuning (op registry names):
//   {"op":"moe_dispatch","hidden":H,"top_k":k,"num_tokens":T}
//   {"op":"moe_swiglu","intermediate":I,"num_rows":R}   (R: the rows the launch covers)
//   {"op":"moe_combine","hidden":H,"top_k":k,"num_tokens":T}
struct MoeStepShape {
  MoeStep step = MoeStep::dispatch;
  MoeConfig config;   // hidden, intermediate and top_k as the entry gives them
  int rows = 0;       // tokens (dispatch, combine) or rows (SwiGLU) of one call
};
const char* moe_step_op(MoeStep step);   // "moe_dispatch", "moe_swiglu", "moe_combine"
// An entry as JSON text; throws Error(invalid_argument) naming the field for an entry the step
// does not take.
MoeStepShape moe_step_shape(const std::string& entry_json);
// The entry of a shape as JSON text, rows at the upper end of their bucket (what a tuning
// record is for).
std::string moe_step_shape_json(const MoeStepShape& shape);
// Row buckets of the launch-shape records: powers of two from 64 up.
int moe_rows_bucket(int rows);

// A tuning record's config as a launch shape ({"kernel":"proven"|"tiled","COLS_PER_THREAD":c,
// "ROWS_PER_BLOCK":r}); nullopt when it does not parse.
std::optional<MoeLaunch> moe_launch_of(const std::string& config_json);
// The launch a call of the step over `rows` rows (tokens for dispatch and combine, the launch's
// rows for SwiGLU) uses: the winner `tuned` holds for (op, row bucket) on `device`, when there
// is one and the definitions take it for this config; else the proven launch (also when tuned is
// null: records off or no database). The calls without a shape use this with their runtime's
// tuned_configs().
MoeLaunch moe_tuned_launch(MoeStep step, const MoeConfig& config, int rows, const DeviceInfo& device,
                           const TunedConfigs* tuned);

}  // namespace shapejit::runtime
