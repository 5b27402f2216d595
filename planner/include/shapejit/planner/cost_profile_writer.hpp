#pragma once
// Builds a measured cost profile (shapejit.cost_profile.v1) from a base profile and the points a
// benchmark measured: each measured (phase, op) gets a piecewise-linear "points" table, the rest
// is carried from the base, and "source" says which is which (and, where given, why an op was
// not measured).
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "shapejit/planner/cost_profile.hpp"

namespace shapejit::planner {

struct MeasuredOp {
  std::string phase;                               // "prefill", "decode", ...
  std::string op;                                  // "moe_gemm", "attention", ...
  std::vector<std::pair<double, double>> points;   // [tokens, us], measured with all SMs
  std::string how;                                 // what was measured, e.g. "32 local experts"
};

// An op deliberately left as the base has it, and why ("no prefill attention kernel").
struct CarriedOp {
  std::string phase;
  std::string op;
  std::string why;
};

// A dispatch or combine measured elsewhere (`bench ep`) and fitted to the COMM model
// (comm_cost_fit.hpp); `how` says on what and from where.
struct MeasuredComm {
  std::string phase;
  std::string op;   // "dispatch" or "combine"
  CommCost cost;
  std::string how;
};

// Every op of the base that is not measured is carried; every op of the result gets a "source"
// string, "measured: <how>" or "carried from <base>[: <why>]", so each figure says where it comes
// from; `carried` only adds the reasons to the
// source text. Throws Error(invalid_argument) when the base is not a profile, lacks a named
// phase or op, an op is measured twice or both measured and carried, or a point is invalid
// (negative, not finite, two at one token count).
nlohmann::json measured_cost_profile(const nlohmann::json& base, const std::string& base_origin,
                                     const std::string& device, int sms,
                                     const std::vector<MeasuredOp>& measured,
                                     const std::string& command,
                                     const std::vector<CarriedOp>& carried = {},
                                     const std::vector<MeasuredComm>& measured_comm = {});

}  // namespace shapejit::planner
