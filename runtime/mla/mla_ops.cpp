#include <string>

#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {
namespace {

constexpr const char* kOp = "mla_decode";

int field(const nlohmann::json& shape, const char* name, int fallback) {
  if (!shape.contains(name)) return fallback;
  if (!shape[name].is_number_integer())
    fail(Errc::invalid_argument, std::string("op mla_decode: field '") + name + "' must be an integer");
  return shape[name].get<int>();
}

MlaConfig config_from(const nlohmann::json& shape) {
  if (!shape.is_object()) fail(Errc::invalid_argument, "op mla_decode: shape must be a JSON object");
  MlaConfig c;
  c.num_heads_q = field(shape, "h_q", 128);
  c.seq_q = field(shape, "s_q", 1);
  c.page_size = field(shape, "page_size", 64);
  const std::string kv = shape.value("kv_dtype", std::string("bf16"));
  if (kv == "bf16")
    c.kv_dtype = MlaKvDtype::bf16;
  else if (kv == "fp8" || kv == "fp8_e4m3")
    c.kv_dtype = MlaKvDtype::fp8_e4m3;
  else
    fail(Errc::invalid_argument,
         "op mla_decode: field 'kv_dtype' = '" + kv + "' must be 'bf16' or 'fp8_e4m3'");
  // cp_async is the GPU-proven split kernel; tma is a choice until a GPU run proves it.
  const std::string path = shape.value("load_path", std::string("cp_async"));
  if (path == "cp_async")
    c.load_path = MlaLoadPath::cp_async;
  else if (path == "tma")
    c.load_path = MlaLoadPath::tma;
  else
    fail(Errc::invalid_argument,
         "op mla_decode: field 'load_path' = '" + path + "' must be 'cp_async' or 'tma'");
  validate(c);
  return c;
}

std::vector<jit::KernelSpec> mla_specs(const nlohmann::json& shape, const DeviceInfo& target) {
  return mla_kernel_specs(config_from(shape), target);
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
