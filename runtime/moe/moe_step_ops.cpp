// Dispatch, SwiGLU and combine as ops of their own: manifest entries (precompile) and tuning
// shapes, with the DeepSeek-V3 sizes. A call of the layer picks the same kernels.
#include <algorithm>
#include <iterator>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/error.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/op_shape.hpp"

namespace shapejit::runtime {
namespace {

constexpr long long kMaxInt = 2147483647;
constexpr MoeStep kSteps[] = {MoeStep::dispatch, MoeStep::swiglu, MoeStep::combine};

// DeepSeek-V3 token counts: a decode batch and two prefill chunks (the moe_layer set's sizes).
constexpr int kDeepSeekV3Tokens[] = {128, 4096, 16384};

MoeStep step_of(const std::string& op) {
  for (MoeStep s : kSteps)
    if (op == moe_step_op(s)) return s;
  fail(Errc::invalid_argument, "op '" + op + "' is not a MoE step (moe_dispatch, moe_swiglu, moe_combine)");
}

template <MoeStep kStep>
std::vector<jit::KernelSpec> step_specs(const nlohmann::json& entry, const DeviceInfo& target,
                                        const TunedConfigs* tuned) {
  const MoeStepShape s = moe_step_shape(entry.dump());
  if (s.step != kStep)
    fail(Errc::invalid_argument, std::string("op ") + moe_step_op(kStep) + ": the entry is for " + moe_step_op(s.step));
  // What a call of this shape loads: the winner when `tuned` holds one, else the proven kernel.
  return {moe_step_spec(kStep, s.config, moe_tuned_launch(kStep, s.config, s.rows, target, tuned), target)};
}

template <MoeStep kStep>
std::vector<nlohmann::json> step_deepseek_v3_shapes() {
  MoeStepShape s;
  s.step = kStep;
  std::set<int> rows;
  if (kStep != MoeStep::swiglu) {
    rows.insert(std::begin(kDeepSeekV3Tokens), std::end(kDeepSeekV3Tokens));
  } else {
    // SwiGLU launches over moe_num_rows, which depends on the local experts and the layout:
    // the row buckets of the moe_layer set (EP 8-64: 32-4 local experts, contiguous at the
    // token counts above, masked with 256 rows an expert).
    for (int local : {32, 16, 8, 4}) {
      MoeConfig c;
      c.num_experts = local;
      for (int t : kDeepSeekV3Tokens) rows.insert(moe_rows_bucket(static_cast<int>(moe_num_rows(c, t))));
      c.layout = MoeLayout::masked;
      c.max_tokens_per_expert = 256;
      rows.insert(moe_rows_bucket(static_cast<int>(moe_num_rows(c, 1))));
    }
  }
  std::vector<nlohmann::json> shapes;
  for (int r : rows) {
    s.rows = r;
    shapes.push_back(nlohmann::json::parse(moe_step_shape_json(s)));
  }
  return shapes;
}

}  // namespace

const char* moe_step_op(MoeStep step) {
  switch (step) {
    case MoeStep::dispatch: return "moe_dispatch";
    case MoeStep::swiglu: return "moe_swiglu";
    case MoeStep::combine: return "moe_combine";
  }
  return "";
}

int moe_rows_bucket(int rows) {
  if (rows < 1) fail(Errc::invalid_argument, "moe: a launch covers at least 1 row to pick a bucket");
  long long b = 64;
  while (b < rows) b *= 2;
  return static_cast<int>(std::min<long long>(b, kMaxInt));
}

MoeStepShape moe_step_shape(const std::string& entry_json) {
  nlohmann::json entry;
  try {
    entry = nlohmann::json::parse(entry_json);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, std::string("moe step: the shape is not JSON: ") + e.what());
  }
  if (!entry.is_object() || !entry.contains("op") || !entry["op"].is_string())
    fail(Errc::invalid_argument, "moe step: the shape is not an object with an \"op\" string");
  MoeStepShape s;
  s.step = step_of(entry["op"].get<std::string>());
  const char* op = moe_step_op(s.step);
  if (s.step == MoeStep::swiglu) {
    const OpShape f(entry, op, {"intermediate", "num_rows"});
    s.config.intermediate = f.integer("intermediate", 1, kMaxInt);
    s.rows = f.integer("num_rows", 1, kMaxInt);
  } else {
    const OpShape f(entry, op, {"hidden", "top_k", "num_tokens"});
    s.config.hidden = f.integer("hidden", 1, kMaxInt);
    s.config.top_k = f.integer("top_k", 1, kMaxInt);
    s.rows = f.integer("num_tokens", 1, kMaxInt);
  }
  validate(s.config);
  return s;
}

std::string moe_step_shape_json(const MoeStepShape& s) {
  const int rows = moe_rows_bucket(s.rows);
  if (s.step == MoeStep::swiglu)
    return nlohmann::json{{"op", moe_step_op(s.step)}, {"intermediate", s.config.intermediate}, {"num_rows", rows}}
        .dump();
  return nlohmann::json{{"op", moe_step_op(s.step)}, {"hidden", s.config.hidden}, {"top_k", s.config.top_k},
                        {"num_tokens", rows}}
      .dump();
}

std::vector<OpFamily> moe_step_op_families() {
  return {{"moe_dispatch",
           "MoE dispatch: gather + FP8 1x128 quantization of each token into its expert rows (fields: "
           "hidden, top_k, num_tokens)",
           step_specs<MoeStep::dispatch>, step_deepseek_v3_shapes<MoeStep::dispatch>},
          {"moe_swiglu", "MoE SwiGLU + FP8 1x128 quantization (fields: intermediate, num_rows)",
           step_specs<MoeStep::swiglu>, step_deepseek_v3_shapes<MoeStep::swiglu>},
          {"moe_combine", "MoE combine: weighted FP32 sum of each token's expert rows (fields: hidden, top_k, num_tokens)",
           step_specs<MoeStep::combine>, step_deepseek_v3_shapes<MoeStep::combine>}};
}

}  // namespace shapejit::runtime
