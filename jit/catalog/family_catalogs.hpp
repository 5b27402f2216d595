#pragma once
// One function per kernel family, each in its own file, listing that family's templates.
#include <vector>

#include "shapejit/jit/kernel_catalog.hpp"

namespace shapejit::jit {
std::vector<KernelTemplate> quant_kernel_templates();
std::vector<KernelTemplate> gemm_kernel_templates();
std::vector<KernelTemplate> mla_kernel_templates();
std::vector<KernelTemplate> moe_kernel_templates();
std::vector<KernelTemplate> test_kernel_templates();
}  // namespace shapejit::jit
