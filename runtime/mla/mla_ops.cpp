#include <string>

#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/op_shape.hpp"

namespace shapejit::runtime {
namespace {

constexpr const char* kOp = "mla_decode";

MlaConfig config_from(const nlohmann::json& shape) {
  const OpShape f(shape, kOp, {"h_q", "s_q", "page_size", "kv_dtype", "load_path"});
  MlaConfig c;
  c.num_heads_q = f.integer("h_q", 1, 1 << 16, 128);
  c.seq_q = f.integer("s_q", 1, 1 << 16, 1);
  c.page_size = f.integer("page_size", 1, 1 << 16, 64);
  c.kv_dtype = f.choice("kv_dtype", {"bf16", "fp8", "fp8_e4m3"}, "bf16") == "bf16"
                   ? MlaKvDtype::bf16
                   : MlaKvDtype::fp8_e4m3;
  // cp_async is the GPU-proven split kernel; tma is a choice until a GPU run proves it.
  c.load_path = f.choice("load_path", {"cp_async", "tma"}, "cp_async") == "tma" ? MlaLoadPath::tma
                                                                               : MlaLoadPath::cp_async;
  validate(c);
  return c;
}

std::vector<jit::KernelSpec> mla_specs(const nlohmann::json& shape, const DeviceInfo& target,
                                       const TunedConfigs* tuned) {
  return mla_kernel_specs(config_from(shape), target, tuned);
}

std::vector<nlohmann::json> mla_deepseek_v3_shapes() {
  // DeepSeek-V3 decode: 128 query heads split over tensor-parallel ranks (h_q per GPU 16..128),
  // s_q 1 (plain decode) or 2 (one multi-token-prediction draft), page size 64.
  std::vector<nlohmann::json> shapes;
  for (const char* kv : {"bf16", "fp8_e4m3"})
    for (int h : {16, 32, 64, 128})
      for (int sq : {1, 2})
        shapes.push_back({{"op", kOp}, {"h_q", h}, {"s_q", sq}, {"page_size", 64}, {"kv_dtype", kv}});
  return shapes;
}

}  // namespace

std::vector<OpFamily> mla_op_families() {
  return {{kOp,
           "MLA decode over a paged KV cache: scheduler, split-KV attention, LSE combine "
           "(fields: h_q=128, s_q=1, page_size=64, kv_dtype=bf16|fp8_e4m3, "
           "load_path=cp_async|tma)",
           mla_specs, mla_deepseek_v3_shapes}};
}

}  // namespace shapejit::runtime
