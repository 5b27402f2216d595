#pragma once
// GEMM's side of tuning, shared by its search space, its records and its GPU measurer: a
// manifest shape ↔ GemmProblem, a GemmConfig ↔ its JSON (named by the definition's
// parameters).
#include <string>

#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

bool is_gemm_op(const std::string& op);
// The problem of a manifest shape of a GEMM op, M at its bucket's upper end (the shape is
// checked as the op's manifest entry is; throws Error(invalid_argument)).
GemmProblem gemm_problem(const std::string& op, const std::string& shape_json, const DeviceInfo& target);
std::string gemm_config_json(const GemmConfig& config);
// One call's FLOPs and minimum bytes moved.
void gemm_work(const GemmProblem& problem, double* flops, double* bytes);
SearchSpace gemm_search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                              const SpaceOptions& options);

}  // namespace shapejit::runtime::tuning::detail
