// Fitting measured dispatch/combine times to the profile's COMM model (see comm_cost_fit.hpp).
#include "shapejit/planner/comm_cost_fit.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

#include "shapejit/error.hpp"

namespace shapejit::planner {

CommCost fit_comm_cost(const std::vector<std::pair<double, double>>& points, double bytes_per_token, int comm_sms) {
  auto bad = [](const std::string& w) { fail(Errc::invalid_argument, "communication cost fit: " + w); };
  std::set<double> xs;
  for (const auto& [t, us] : points) {
    if (!std::isfinite(t) || !std::isfinite(us) || t < 0 || us < 0) bad("a point is negative or not finite");
    xs.insert(t);
  }
  if (xs.size() < 2) bad("needs points at two or more token counts");
  if (!(bytes_per_token > 0) || comm_sms < 1) bad("bytes_per_token and comm_sms must be positive");
  const double n = static_cast<double>(points.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [t, us] : points) { sx += t; sy += us; sxx += t * t; sxy += t * us; }
  const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const double intercept = (sy - slope * sx) / n;
  if (!(slope > 0)) bad("time does not grow with tokens (slope " + std::to_string(slope) + " us/token)");
  CommCost c;
  c.fixed_us = std::max(0.0, intercept);
  c.bytes_per_token = bytes_per_token;
  const double gbps = bytes_per_token / slope / 1e3;   // bytes per µs → GB/s
  c.max_gbps = gbps;
  c.gbps_per_sm = gbps / comm_sms;
  c.gbps_without_sms = 0;
  return c;
}

std::string with_measured_comm(const std::string& profile_json, const std::string& phase, const std::string& op,
                               const CommCost& cost, const std::string& how) {
  nlohmann::json profile;
  try {
    profile = nlohmann::json::parse(profile_json);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, std::string("measured communication: the profile is not JSON: ") + e.what());
  }
  if (op != "dispatch" && op != "combine")
    fail(Errc::invalid_argument, "measured communication: op '" + op + "' is neither dispatch nor combine");
  if (!profile.contains("phases") || !profile["phases"].contains(phase) ||
      !profile["phases"][phase].contains("ops") || !profile["phases"][phase]["ops"].contains(op))
    fail(Errc::invalid_argument, "measured communication: the profile has no phases." + phase + ".ops." + op);
  nlohmann::json out = profile;
  out["phases"][phase]["ops"][op] = {{"fixed_us", cost.fixed_us},
                                     {"bytes_per_token", cost.bytes_per_token},
                                     {"gbps_per_sm", cost.gbps_per_sm},
                                     {"gbps_without_sms", cost.gbps_without_sms},
                                     {"max_gbps", cost.max_gbps},
                                     {"source", "measured: " + how}};
  const std::string before = out.value("source", std::string());
  out["source"] = before + (before.empty() ? "" : "; ") + phase + "." + op + " measured: " + how;
  // The result must still be a profile the chooser reads.
  std::string text = out.dump(2) + "\n";
  parse_cost_profile(text, "measured profile");
  return text;
}

}  // namespace shapejit::planner
