#include "shapejit/runtime/op_registry.hpp"

#include <set>

#include "shapejit/error.hpp"

namespace shapejit::runtime {

// Each family folder under runtime/ defines <family>_op_families(); the list of families is
// SHAPEJIT_FAMILIES in the top-level CMakeLists.txt, written into runtime_families.inc.
#define SHAPEJIT_FAMILY(name) std::vector<OpFamily> name##_op_families();
#include "runtime_families.inc"
#undef SHAPEJIT_FAMILY

std::span<const OpFamily> op_families() {
  static const std::vector<OpFamily> all = [] {
    std::vector<OpFamily> v;
#define SHAPEJIT_FAMILY(name) \
    for (auto& f : name##_op_families()) v.push_back(f);
#include "runtime_families.inc"
#undef SHAPEJIT_FAMILY
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

std::vector<jit::KernelSpec> deepseek_v3_specs(const DeviceInfo& target, const TunedConfigs* tuned) {
  std::vector<jit::KernelSpec> specs;
  std::set<std::string> seen;
  for (const auto& f : op_families())
    for (const auto& shape : f.deepseek_v3_shapes())
      for (auto& s : f.specs_for(shape, target, tuned))
        if (seen.insert(s.canonical()).second) specs.push_back(std::move(s));
  return specs;
}

}  // namespace shapejit::runtime
