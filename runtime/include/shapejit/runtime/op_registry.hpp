#pragma once
// Operators the JIT can prepare kernels for. Each family maps an operator shape (the JSON
// object of a manifest entry, e.g. {"op":"gemm_fp8","m":4096,"n":7168,"k":2048}) to the exact
// kernel specs a call of that shape would use on a target device, and lists the shapes of the
// built-in DeepSeek-V3 set. Precompilation and the runtime use the same mapping, so a
// precompiled cache is exactly what a later run looks up.
#include <nlohmann/json.hpp>

#include <span>
#include <string_view>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::runtime {

class TunedConfigs;   // tuned_configs.hpp

struct OpFamily {
  std::string_view op;            // manifest "op" value
  std::string_view summary;       // one line for --help and error messages
  // tuned: the tuning winners the calls would consult (a Runtime's tuned_configs(),
  // load_tuning_records(); nullptr: the heuristics' picks). Throws Error(invalid_argument) naming the field when the shape is not one
  // the family takes.
  std::vector<jit::KernelSpec> (*specs)(const nlohmann::json& shape, const DeviceInfo& target,
                                        const TunedConfigs* tuned);
  std::vector<nlohmann::json> (*deepseek_v3_shapes)();

  std::vector<jit::KernelSpec> specs_for(const nlohmann::json& shape, const DeviceInfo& target,
                                         const TunedConfigs* tuned = nullptr) const {
    return specs(shape, target, tuned);
  }
};

std::span<const OpFamily> op_families();
const OpFamily& find_op_family(std::string_view op);   // throws Error(invalid_argument)

// Every spec of the built-in DeepSeek-V3 set for the target, in a stable order, deduplicated.
std::vector<jit::KernelSpec> deepseek_v3_specs(const DeviceInfo& target,
                                               const TunedConfigs* tuned = nullptr);

}  // namespace shapejit::runtime
