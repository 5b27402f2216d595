#include "shapejit/jit/kernel_catalog.hpp"

#include "catalog/family_catalogs.hpp"
#include "shapejit/error.hpp"

namespace shapejit::jit {

std::span<const KernelTemplate> kernel_catalog() {
  static const std::vector<KernelTemplate> all = [] {
    std::vector<KernelTemplate> v;
    for (auto family : {quant_kernel_templates, gemm_kernel_templates, mla_kernel_templates,
                        moe_kernel_templates, test_kernel_templates})
      for (auto& t : family()) v.push_back(t);
    return v;
  }();
  return all;
}

const KernelTemplate& find_kernel_template(const KernelSpec& spec) {
  bool family_known = false;
  for (const auto& t : kernel_catalog()) {
    if (t.family != spec.family) continue;
    family_known = true;
    if (t.kernel != spec.kernel) continue;
    if (t.params.size() != spec.args.size())
      fail(Errc::invalid_argument,
           "kernel " + spec.family + "/" + spec.kernel + " takes " +
               std::to_string(t.params.size()) + " template arguments, spec gives " +
               std::to_string(spec.args.size()) + " (" + spec.canonical() + ")");
    return t;
  }
  if (!family_known) fail(Errc::invalid_argument, "unknown kernel family '" + spec.family + "'");
  fail(Errc::invalid_argument, "unknown kernel '" + spec.kernel + "' in family '" + spec.family + "'");
}

}  // namespace shapejit::jit
