#pragma once
// One function per kernel family, each in its own file under runtime/ops/.
#include <vector>

#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {
std::vector<OpFamily> quant_op_families();
std::vector<OpFamily> gemm_op_families();
std::vector<OpFamily> mla_op_families();
std::vector<OpFamily> moe_op_families();
}  // namespace shapejit::runtime
