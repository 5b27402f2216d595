#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/op_shape.hpp"
#include "shapejit/runtime/quant.hpp"

namespace shapejit::runtime {
namespace {

std::vector<jit::KernelSpec> quant_specs(const nlohmann::json& shape, const DeviceInfo& target,
                                         const TunedConfigs* /*tuned: nothing tuned*/) {
  const OpShape f(shape, "quant_fp8", {"k", "group_size"});
  QuantFp8Args a;   // M is a run-time argument: every M uses the same kernel
  a.k = f.integer("k", 1, 1 << 20);
  a.group_size = f.integer("group_size", 1, 1024, 128);
  validate_shape(a);
  return {quant_fp8_spec(a.k, a.group_size, target.arch)};
}

std::vector<nlohmann::json> quant_deepseek_v3_shapes() {
  std::vector<nlohmann::json> shapes;
  // Every activation width that enters an FP8 GEMM in DeepSeek-V3.
  for (int k : {7168, 2048, 1536, 512, 16384, 18432, 4096})
    shapes.push_back({{"op", "quant_fp8"}, {"k", k}, {"group_size", 128}});
  return shapes;
}

}  // namespace

std::vector<OpFamily> quant_op_families() {
  return {{"quant_fp8", "BF16 [M,K] -> FP8 E4M3 + FP32 scale per 1x128 group (fields: k, group_size=128)",
           quant_specs, quant_deepseek_v3_shapes}};
}

}  // namespace shapejit::runtime
