#include "op_families.hpp"

namespace shapejit::runtime {

std::vector<OpFamily> mla_op_families() { return {}; }

}  // namespace shapejit::runtime
