#pragma once
// Builds a measured cost profile (shapejit.cost_profile.v1) from a base profile and the points a
// benchmark measured: each measured (phase, op) gets a piecewise-linear "points" table, the rest
// is carried from the base, and "source" says which is which.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace shapejit::planner {

struct MeasuredOp {
  std::string phase;                               // "prefill", "decode", ...
  std::string op;                                  // "moe_gemm", "attention", ...
  std::vector<std::pair<double, double>> points;   // [tokens, us], measured with all SMs
  std::string how;                                 // what was measured, e.g. "32 local experts"
};

// Throws Error(invalid_argument) when the base lacks a named phase or op, or a point is invalid.
nlohmann::json measured_cost_profile(const nlohmann::json& base, const std::string& base_origin,
                                     const std::string& device, int sms,
                                     const std::vector<MeasuredOp>& measured,
                                     const std::string& command);

}  // namespace shapejit::planner
