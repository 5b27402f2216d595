// shapejit._shapejit: the compiled half of the `shapejit` package. The Python modules beside it
// (shapejit/*.py) choose streams, allocate outputs with torch and give the calls their
// DeepGEMM/FlashMLA/EPLB spellings; this layer checks tensors and calls the C++ library.
#include "bindings.hpp"

NB_MODULE(_shapejit, m) {
  m.doc() = "shapejit's C++ library, bound with nanobind (use the `shapejit` package instead)";
  using namespace shapejit::python;
  bind_errors(m);
  bind_runtime(m);
  bind_precompile(m);
  bind_cache(m);
  bind_tuning(m);
  bind_planner(m);
  bind_gemm(m);
  bind_mla(m);
  bind_moe(m);
  bind_reference(m);
}
