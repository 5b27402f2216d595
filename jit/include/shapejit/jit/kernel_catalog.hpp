#pragma once
// The catalog of kernel templates the JIT knows: which header declares each one and what its
// template parameters are called. A spec naming an unknown family or kernel, or giving the
// wrong number of arguments, is rejected here with an error that names it.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

struct KernelTemplate {
  std::string_view family;
  std::string_view kernel;
  std::string_view header;                  // path under templates/
  std::vector<std::string_view> params;     // template parameter names, in order
};

std::span<const KernelTemplate> kernel_catalog();
const KernelTemplate& find_kernel_template(const KernelSpec& spec);   // throws on unknown/bad arity

}  // namespace shapejit::jit
