#pragma once
// The catalog of kernel templates the JIT knows: one KernelDefinition per template
// (kernel_definition.hpp), from jit/catalog/<family>_kernels.cpp for every registered family.
// A spec naming an unknown family or kernel, or values its definition does not allow, is
// rejected here with an error that names it.
#include <span>
#include <string>
#include <string_view>

#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/jit/kernel_spec.hpp"

namespace shapejit::jit {

std::span<const KernelDefinition> kernel_catalog();
// Throws Error(invalid_argument) on an unknown family or kernel.
const KernelDefinition& find_kernel_definition(std::string_view family, std::string_view kernel);
// The spec's definition, with the spec's values checked against it (throws naming the
// parameter and the rule).
const KernelDefinition& find_kernel_definition(const KernelSpec& spec);

// Spec text as a person or a manifest writes it (arguments positional or named) → the
// checked spec in canonical positional form.
KernelSpec resolve_spec(const std::string& text);
// For people: parameter names next to the values; the canonical text when the spec does not
// match a definition of this build.
std::string describe_spec(const KernelSpec& spec);
std::string describe_spec(const std::string& canonical_text);

}  // namespace shapejit::jit
