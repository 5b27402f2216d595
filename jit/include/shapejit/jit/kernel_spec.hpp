#pragma once
// KernelSpec: everything that names one compiled kernel. Its canonical text form is
//
//     family/kernel<arg0,arg1,...>@arch[;option;option...]
//
// e.g. "quant/per_token_group_quant<7168,128>@sm_90a". The kernel is a __global__ function
// template in namespace shapejit::kernels declared by the family's header; the arguments are
// its template arguments, in order (integers, true/false, or type names), or all named
// (NAME=value, any order) where a person writes the spec; the kernel's definition
// (kernel_definition.hpp) turns named arguments into the canonical positional form.
// The arch must be a known target and the options come from an allow-list: a spec is data
// (manifests travel between machines) and must not make NVRTC read or write host files.
#include <string>
#include <string_view>
#include <vector>

namespace shapejit::jit {

struct KernelSpec {
  std::string family;                  // "quant", "gemm", "mla", "moe", ...
  std::string kernel;                  // template name inside shapejit::kernels
  std::vector<std::string> args;       // template arguments, in order
  std::string arch = "sm_90a";         // target, with suffix
  std::vector<std::string> options;    // extra NVRTC options, in order

  // One canonical serialization: parse(canonical()) == *this for every valid spec.
  std::string canonical() const;
  static KernelSpec parse(const std::string& text);   // throws Error(invalid_argument)

  // "shapejit::kernels::name<a,b>": the NVRTC name expression, without the '&'.
  std::string instance_name() const;

  bool operator==(const KernelSpec&) const = default;
};

// Targets and NVRTC options a spec may carry (see kernel_spec.cpp for why). check_arch throws
// Error(invalid_argument) naming the known targets.
bool is_known_arch(std::string_view arch);
void check_arch(const std::string& arch);
bool is_allowed_option(std::string_view option);

// Helpers for building argument lists.
std::string spec_arg(long long value);
std::string spec_arg(bool value);

}  // namespace shapejit::jit
