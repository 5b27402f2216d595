// The bound an MLA decode output must meet against mla_decode_reference: shared by the GPU
// tests and the tuner's reference check, so both accept exactly the same results. The
// derivation is the header comment of tests/mla/mla_gpu_test.cpp.
#include <algorithm>
#include <cmath>

#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {

double mla_logit_error_bound(double max_abs_logit, int n) {
  return std::ldexp(20.0 * max_abs_logit + n / 64.0 + std::log2(std::max(n, 1)) + 2.0, -20);
}

double mla_out_tolerance(double ref, double abs_out, double max_abs_logit, int n) {
  const double u = std::ldexp(1.0, -8);
  const double eta = mla_logit_error_bound(max_abs_logit, n);
  const double c = 3.0 * n * std::ldexp(1.0, -26) + std::ldexp(1.0, -19);
  // (1 + u)·e^2η·(1 + c) − 1, without cancellation.
  const double a_factor = std::expm1(std::log1p(u) + 2.0 * eta + std::log1p(c));
  return u * std::fabs(ref) + (1.0 + u) * a_factor * abs_out + std::ldexp(1.0, -100);
}

}  // namespace shapejit::runtime
