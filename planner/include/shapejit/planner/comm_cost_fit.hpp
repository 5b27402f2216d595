#pragma once
// Measured communication costs into a cost profile: a dispatch or combine measured at several
// token counts with a fixed number of communication SMs becomes the profile's COMM model
// (time = fixed_us + bytes_per_token · tokens / bandwidth). One SM count measures one point of
// bandwidth(s) = min(max_gbps, gbps_without_sms + gbps_per_sm · s): the fit takes bandwidth
// proportional to the SMs up to the measured one and no higher beyond it, and says so in the
// profile's source.
#include <string>
#include <utility>
#include <vector>

#include "shapejit/planner/cost_profile.hpp"

namespace shapejit::planner {

// Least squares of us = a + b · tokens over ≥ 2 points at distinct token counts; fixed_us =
// max(a, 0), bandwidth = bytes_per_token / b. Throws Error(invalid_argument) on fewer than two
// distinct points, a point that is negative or not finite, or a slope ≤ 0 (no bandwidth).
CommCost fit_comm_cost(const std::vector<std::pair<double, double>>& points, double bytes_per_token, int comm_sms);

// The profile (JSON text) with `phase`'s `op` ("dispatch" or "combine") replaced by the fit and
// the source extended by `how`, as JSON text. Throws Error(invalid_argument) when the text is
// not a profile or the phase or op is missing.
std::string with_measured_comm(const std::string& profile_json, const std::string& phase, const std::string& op,
                               const CommCost& cost, const std::string& how);

}  // namespace shapejit::planner
