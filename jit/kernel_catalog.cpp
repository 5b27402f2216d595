#include "shapejit/jit/kernel_catalog.hpp"

#include <vector>

#include "shapejit/error.hpp"

namespace shapejit::jit {

// Each jit/catalog/<family>_kernels.cpp defines <family>_kernel_definitions(); the families
// are SHAPEJIT_FAMILIES in the top-level CMakeLists.txt (plus selftest), written into
// jit_families.inc.
#define SHAPEJIT_FAMILY(name) std::vector<KernelDefinition> name##_kernel_definitions();
#include "jit_families.inc"
#undef SHAPEJIT_FAMILY

std::span<const KernelDefinition> kernel_catalog() {
  static const std::vector<KernelDefinition> all = [] {
    std::vector<KernelDefinition> v;
#define SHAPEJIT_FAMILY(name) \
    for (auto& d : name##_kernel_definitions()) v.push_back(std::move(d));
#include "jit_families.inc"
#undef SHAPEJIT_FAMILY
    return v;
  }();
  return all;
}

const KernelDefinition& find_kernel_definition(std::string_view family, std::string_view kernel) {
  bool family_known = false;
  std::string kernels;
  for (const auto& d : kernel_catalog()) {
    if (d.family != family) continue;
    family_known = true;
    if (d.kernel == kernel) return d;
    kernels += (kernels.empty() ? "" : ", ") + std::string(d.kernel);
  }
  if (!family_known) fail(Errc::invalid_argument, "unknown kernel family '" + std::string(family) + "'");
  fail(Errc::invalid_argument, "unknown kernel '" + std::string(kernel) + "' in family '" +
                                   std::string(family) + "' (kernels: " + kernels + ")");
}

const KernelDefinition& find_kernel_definition(const KernelSpec& spec) {
  const KernelDefinition& d = find_kernel_definition(spec.family, spec.kernel);
  d.values(spec);
  return d;
}

KernelSpec resolve_spec(const std::string& text) {
  const KernelSpec spec = KernelSpec::parse(text);
  return find_kernel_definition(spec.family, spec.kernel).canonical(spec);
}

std::string describe_spec(const KernelSpec& spec) {
  try {
    return find_kernel_definition(spec.family, spec.kernel).describe(spec);
  } catch (const Error&) {
    return spec.canonical();
  }
}

std::string describe_spec(const std::string& canonical_text) {
  try {
    return describe_spec(KernelSpec::parse(canonical_text));
  } catch (const Error&) {
    return canonical_text;
  }
}

}  // namespace shapejit::jit
