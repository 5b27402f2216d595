#include "shapejit/runtime/op_registry.hpp"

namespace shapejit::runtime {

// No manifest op yet: the exchange's kernels join the precompiled DeepSeek-V3 set (and so the
// proven-kernel ledger's scope) once a GPU run has proven them; until then `shapejit compile`
// and the EP path itself build them on demand.
std::vector<OpFamily> ep_op_families() { return {}; }

}  // namespace shapejit::runtime
