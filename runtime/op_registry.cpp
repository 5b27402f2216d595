#include "shapejit/runtime/op_registry.hpp"

#include <set>

#include "ops/op_families.hpp"
#include "shapejit/error.hpp"

namespace shapejit::runtime {

std::span<const OpFamily> op_families() {
  static const std::vector<OpFamily> all = [] {
    std::vector<OpFamily> v;
    for (auto family : {quant_op_families, gemm_op_families, mla_op_families, moe_op_families})
      for (auto& f : family()) v.push_back(f);
    return v;
  }();
  return all;
}

const OpFamily& find_op_family(std::string_view op) {
  std::string known;
  for (const auto& f : op_families()) {
    if (f.op == op) return f;
    known += (known.empty() ? "" : ", ") + std::string(f.op);
  }
  fail(Errc::invalid_argument, "unknown op '" + std::string(op) + "' (known: " + known + ")");
}

std::vector<jit::KernelSpec> deepseek_v3_specs(const DeviceInfo& target) {
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  for (const auto& f : op_families())
    for (const auto& shape : f.deepseek_v3_shapes())
      for (auto& s : f.specs_for(shape, target))
        if (seen.insert(s.canonical()).second) specs.push_back(std::move(s));
  return specs;
}

}  // namespace shapejit::runtime
