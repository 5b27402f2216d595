#pragma once
// KernelSpec: everything that names one compiled kernel. Its canonical text form is
//
//     family/kernel<arg0,arg1,...>@arch[;option;option...]
//
// e.g. "quant/per_token_group_quant<7168,128>@sm_90a". The kernel is a __global__ function
// template in namespace shapejit::kernels declared by the family's header; the arguments are
// its template arguments, in order (integers, true/false, or type names).
#include <string>
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

// Helpers for building argument lists.
std::string spec_arg(long long value);
std::string spec_arg(bool value);

}  // namespace shapejit::jit
