#include "shapejit/planner/cost_profile_writer.hpp"

#include <cmath>

#include "shapejit/error.hpp"

namespace shapejit::planner {

nlohmann::json measured_cost_profile(const nlohmann::json& base, const std::string& base_origin,
                                     const std::string& device, int sms,
                                     const std::vector<MeasuredOp>& measured,
                                     const std::string& command) {
  if (!base.is_object() || !base.contains("phases") || !base["phases"].is_object())
    fail(Errc::invalid_argument, base_origin + ": not a cost profile (no \"phases\" object)");
  nlohmann::json out = base;
  out["format"] = "shapejit.cost_profile.v1";
  out["device"] = {{"name", device}, {"sms", sms}};
  std::string measured_list;
  for (const MeasuredOp& m : measured) {
    const std::string where = "phases." + m.phase + ".ops." + m.op;
    if (!out["phases"].contains(m.phase) || !out["phases"][m.phase].contains("ops") ||
        !out["phases"][m.phase]["ops"].contains(m.op))
      fail(Errc::invalid_argument, base_origin + ": the base profile has no " + where);
    if (m.points.empty()) fail(Errc::invalid_argument, where + ": no measured points");
    nlohmann::json points = nlohmann::json::array();
    for (const auto& [tokens, us] : m.points) {
      if (!(tokens >= 0) || !(us >= 0) || !std::isfinite(us))
        fail(Errc::invalid_argument, where + ": invalid point [" + std::to_string(tokens) + ", " +
                                         std::to_string(us) + "]");
      points.push_back({tokens, us});
    }
    nlohmann::json& op = out["phases"][m.phase]["ops"][m.op];
    // Keep how the op scales with the SMs left for compute; replace its time model.
    nlohmann::json replaced = {{"points", points}};
    if (op.contains("sm_sensitivity")) replaced["sm_sensitivity"] = op["sm_sensitivity"];
    op = replaced;
    measured_list += (measured_list.empty() ? "" : "; ") + where + " (" + m.how + ")";
  }
  const std::string base_source = base.value("source", std::string("unstated"));
  out["source"] = "MEASURED on " + device + " by `" + command + "`: " + measured_list +
                  ". Everything else is carried from " + base_origin + ", whose source reads: " +
                  base_source;
  return out;
}

}  // namespace shapejit::planner
