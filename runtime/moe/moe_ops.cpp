#include <string>

#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/op_shape.hpp"
#include "shapejit/runtime/tuned_configs.hpp"

namespace shapejit::runtime {
namespace {

constexpr const char* kOp = "moe_layer";

constexpr long long kMaxInt = 2147483647;

OpShape fields_of(const nlohmann::json& shape) {
  return OpShape(shape, kOp, {"hidden", "intermediate", "num_experts", "top_k", "expert_begin",
                              "layout", "align_m", "max_tokens_per_expert", "num_tokens"});
}

MoeConfig config_from(const OpShape& f) {
  MoeConfig c;
  c.hidden = f.integer("hidden", 1, kMaxInt);
  c.intermediate = f.integer("intermediate", 1, kMaxInt);
  c.num_experts = f.integer("num_experts", 1, kMaxInt);
  c.top_k = f.integer("top_k", 1, kMaxInt);
  c.expert_begin = f.integer("expert_begin", 0, kMaxInt, 0);
  if (f.choice("layout", {"contiguous", "masked"}, "contiguous") == "contiguous") {
    if (f.has("max_tokens_per_expert")) f.reject("max_tokens_per_expert is for the masked layout");
    c.layout = MoeLayout::contiguous;
    c.align_m = f.integer("align_m", 1, kMaxInt, 128);
  } else {
    if (f.has("align_m")) f.reject("align_m is for the contiguous layout");
    c.layout = MoeLayout::masked;
    c.max_tokens_per_expert = f.integer("max_tokens_per_expert", 0, kMaxInt, 0);
  }
  validate(c);
  return c;
}

// The grouped GEMMs' config depends on the token count: an entry names it ("num_tokens"),
// otherwise the specs for the prefill/decode sizes of the benchmark (128, 4096, 16384 tokens).
std::vector<jit::KernelSpec> moe_specs(const nlohmann::json& shape, const DeviceInfo& target,
                                       const TunedConfigs* tuned) {
  const OpShape f = fields_of(shape);
  const MoeConfig c = config_from(f);
  std::vector<jit::KernelSpec> specs = moe_kernel_specs(c, target);
  std::vector<int> token_counts = {128, 4096, 16384};
  if (f.has("num_tokens")) token_counts = {f.integer("num_tokens", 1, kMaxInt)};
  auto add = [&](jit::KernelSpec s) {
    bool seen = false;
    for (const auto& have : specs) seen |= have == s;
    if (!seen) specs.push_back(std::move(s));
  };
  for (int t : token_counts) {
    if (t <= 0) continue;
    for (auto& s : moe_grouped_gemm_specs(c, t, target, gemm_lookup(tuned))) add(std::move(s));
    // Launch-shape winners of dispatch, SwiGLU and combine at this token count (none: the
    // proven kernels above).
    add(moe_step_spec(MoeStep::dispatch, c, moe_tuned_launch(MoeStep::dispatch, c, t, target, tuned), target));
    const int rows = static_cast<int>(moe_num_rows(c, t));
    add(moe_step_spec(MoeStep::swiglu, c, moe_tuned_launch(MoeStep::swiglu, c, rows, target, tuned), target));
    add(moe_step_spec(MoeStep::combine, c, moe_tuned_launch(MoeStep::combine, c, t, target, tuned), target));
  }
  return specs;
}

std::vector<nlohmann::json> moe_deepseek_v3_shapes() {
  // DeepSeek-V3: 256 routed experts, top-8, hidden 7168, expert intermediate 2048; one GPU of
  // an expert-parallel group of EP ranks holds 256 / EP experts. Prefill uses the contiguous
  // layout, decode the masked one (max_tokens_per_expert is a run-time size: any value gives
  // the same kernels).
  std::vector<nlohmann::json> shapes;
  for (int ep : {8, 16, 32, 64}) {
    const int local = 256 / ep;
    shapes.push_back({{"op", kOp}, {"hidden", 7168}, {"intermediate", 2048}, {"num_experts", local},
                      {"top_k", 8}, {"layout", "contiguous"}, {"align_m", 128}});
    shapes.push_back({{"op", kOp}, {"hidden", 7168}, {"intermediate", 2048}, {"num_experts", local},
                      {"top_k", 8}, {"layout", "masked"}, {"max_tokens_per_expert", 256}});
  }
  return shapes;
}

}  // namespace

std::vector<OpFamily> moe_step_op_families();   // moe_step_ops.cpp

std::vector<OpFamily> moe_op_families() {
  std::vector<OpFamily> families = {{kOp,
           "MoE layer on one GPU: routing, FP8 dispatch, grouped GEMMs, SwiGLU, combine (fields: "
           "hidden, intermediate, num_experts, top_k, expert_begin=0, layout=contiguous|masked, "
           "align_m=128, max_tokens_per_expert, num_tokens=128/4096/16384)",
           moe_specs, moe_deepseek_v3_shapes}};
  for (OpFamily& f : moe_step_op_families()) families.push_back(f);
  return families;
}

}  // namespace shapejit::runtime
