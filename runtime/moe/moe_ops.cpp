#include <string>

#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime {
namespace {

constexpr const char* kOp = "moe_layer";

int field(const nlohmann::json& shape, const char* name, int fallback) {
  if (!shape.contains(name)) return fallback;
  if (!shape[name].is_number_integer())
    fail(Errc::invalid_argument, std::string("op moe_layer: field '") + name + "' must be an integer");
  return shape[name].get<int>();
}

MoeConfig config_from(const nlohmann::json& shape) {
  if (!shape.is_object()) fail(Errc::invalid_argument, "op moe_layer: shape must be a JSON object");
  for (const char* required : {"hidden", "intermediate", "num_experts", "top_k"})
    if (!shape.contains(required))
      fail(Errc::invalid_argument, std::string("op moe_layer: missing field '") + required + "'");
  MoeConfig c;
  c.hidden = field(shape, "hidden", 0);
  c.intermediate = field(shape, "intermediate", 0);
  c.num_experts = field(shape, "num_experts", 0);
  c.top_k = field(shape, "top_k", 0);
  c.expert_begin = field(shape, "expert_begin", 0);
  const std::string layout = shape.value("layout", std::string("contiguous"));
  if (layout == "contiguous") {
    c.layout = MoeLayout::contiguous;
    c.align_m = field(shape, "align_m", 128);
  } else if (layout == "masked") {
    c.layout = MoeLayout::masked;
    c.max_tokens_per_expert = field(shape, "max_tokens_per_expert", 0);
  } else {
    fail(Errc::invalid_argument,
         "op moe_layer: field 'layout' = '" + layout + "' must be 'contiguous' or 'masked'");
  }
  validate(c);
  return c;
}

// The grouped GEMMs' config depends on the token count: an entry names it ("num_tokens"),
// otherwise the specs for the prefill/decode sizes of the benchmark (128, 4096, 16384 tokens).
std::vector<jit::KernelSpec> moe_specs(const nlohmann::json& shape, const DeviceInfo& target) {
  const MoeConfig c = config_from(shape);
  std::vector<jit::KernelSpec> specs = moe_kernel_specs(c, target);
  std::vector<int> token_counts = {128, 4096, 16384};
  if (shape.contains("num_tokens")) token_counts = {field(shape, "num_tokens", 0)};
  for (int t : token_counts) {
    if (t <= 0) continue;
    for (auto& s : moe_grouped_gemm_specs(c, t, target)) {
      bool seen = false;
      for (const auto& have : specs) seen |= have == s;
      if (!seen) specs.push_back(std::move(s));
    }
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

std::vector<OpFamily> moe_op_families() {
  return {{kOp,
           "MoE layer on one GPU: routing, FP8 dispatch, grouped GEMMs, SwiGLU, combine (fields: "
           "hidden, intermediate, num_experts, top_k, expert_begin=0, layout=contiguous|masked, "
           "align_m=128, max_tokens_per_expert, num_tokens=128/4096/16384)",
           moe_specs, moe_deepseek_v3_shapes}};
}

}  // namespace shapejit::runtime
