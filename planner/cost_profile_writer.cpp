#include "shapejit/planner/cost_profile_writer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "shapejit/error.hpp"

namespace shapejit::planner {

namespace {

std::string op_path(const std::string& phase, const std::string& op) {
  return "phases." + phase + ".ops." + op;
}

bool has_op(const nlohmann::json& profile, const std::string& phase, const std::string& op) {
  const nlohmann::json& phases = profile["phases"];
  return phases.contains(phase) && phases[phase].is_object() && phases[phase].contains("ops") &&
         phases[phase]["ops"].is_object() && phases[phase]["ops"].contains(op);
}

std::string number(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

nlohmann::json measured_cost_profile(const nlohmann::json& base, const std::string& base_origin,
                                     const std::string& device, int sms,
                                     const std::vector<MeasuredOp>& measured,
                                     const std::string& command,
                                     const std::vector<CarriedOp>& carried,
                                     const std::vector<MeasuredComm>& measured_comm) {
  if (!base.is_object() || !base.contains("phases") || !base["phases"].is_object())
    fail(Errc::invalid_argument, base_origin + ": not a cost profile (no \"phases\" object)");
  nlohmann::json out = base;
  out["format"] = "shapejit.cost_profile.v1";
  out["device"] = {{"name", device}, {"sms", sms}};
  std::set<std::string> measured_paths;
  std::string measured_list;
  for (const MeasuredOp& m : measured) {
    const std::string where = op_path(m.phase, m.op);
    if (!has_op(out, m.phase, m.op))
      fail(Errc::invalid_argument, base_origin + ": the base profile has no " + where);
    if (!measured_paths.insert(where).second)
      fail(Errc::invalid_argument, where + ": measured twice");
    if (m.points.empty()) fail(Errc::invalid_argument, where + ": no measured points");
    auto sorted = m.points;
    std::sort(sorted.begin(), sorted.end());
    nlohmann::json points = nlohmann::json::array();
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      const auto [tokens, us] = sorted[i];
      if (!(tokens >= 0) || !std::isfinite(tokens) || !(us >= 0) || !std::isfinite(us))
        fail(Errc::invalid_argument, where + ": invalid point [" + number(tokens) + ", " +
                                         number(us) + "]");
      if (i > 0 && sorted[i - 1].first == tokens)
        fail(Errc::invalid_argument, where + ": two points at token count " + number(tokens));
      points.push_back({tokens, us});
    }
    nlohmann::json& op = out["phases"][m.phase]["ops"][m.op];
    // Keep how the op scales with the SMs left for compute; replace its time model.
    nlohmann::json replaced = {{"points", points}};
    if (op.contains("sm_sensitivity")) replaced["sm_sensitivity"] = op["sm_sensitivity"];
    replaced["source"] = "measured: " + m.how;
    op = replaced;
    measured_list += (measured_list.empty() ? "" : "; ") + where + " (" + m.how + ")";
  }
  for (const MeasuredComm& m : measured_comm) {
    const std::string where = op_path(m.phase, m.op);
    if (m.op != "dispatch" && m.op != "combine")
      fail(Errc::invalid_argument, where + ": only dispatch and combine take a communication model");
    if (!has_op(out, m.phase, m.op))
      fail(Errc::invalid_argument, base_origin + ": the base profile has no " + where);
    if (!measured_paths.insert(where).second) fail(Errc::invalid_argument, where + ": measured twice");
    const CommCost& c = m.cost;
    for (double v : {c.fixed_us, c.bytes_per_token, c.gbps_per_sm, c.gbps_without_sms, c.max_gbps})
      if (!std::isfinite(v) || v < 0) fail(Errc::invalid_argument, where + ": invalid communication model");
    if (c.max_gbps <= 0 || (c.gbps_per_sm <= 0 && c.gbps_without_sms <= 0))
      fail(Errc::invalid_argument, where + ": the communication model has no bandwidth");
    out["phases"][m.phase]["ops"][m.op] = {{"fixed_us", c.fixed_us},          {"bytes_per_token", c.bytes_per_token},
                                           {"gbps_per_sm", c.gbps_per_sm},    {"gbps_without_sms", c.gbps_without_sms},
                                           {"max_gbps", c.max_gbps},          {"source", "measured: " + m.how}};
    measured_list += (measured_list.empty() ? "" : "; ") + where + " (" + m.how + ")";
  }
  std::map<std::string, std::string> why;
  for (const CarriedOp& c : carried) {
    const std::string where = op_path(c.phase, c.op);
    if (!has_op(out, c.phase, c.op))
      fail(Errc::invalid_argument, base_origin + ": the base profile has no " + where);
    if (measured_paths.count(where))
      fail(Errc::invalid_argument, where + ": both measured and carried");
    why[where] = c.why;
  }
  // Every op not measured (phases and ops in name order), with its reason where one was given.
  std::string carried_list;
  for (const auto& [phase, body] : out["phases"].items()) {
    if (!body.is_object() || !body.contains("ops") || !body["ops"].is_object()) continue;
    for (const auto& [op, unused] : body["ops"].items()) {
      const std::string where = op_path(phase, op);
      if (measured_paths.count(where)) continue;
      carried_list += (carried_list.empty() ? "" : "; ") + where;
      std::string source = "carried from " + base_origin;
      if (const auto it = why.find(where); it != why.end() && !it->second.empty()) {
        carried_list += " (" + it->second + ")";
        source += ": " + it->second;
      }
      if (out["phases"][phase]["ops"][op].is_object()) out["phases"][phase]["ops"][op]["source"] = source;
    }
  }
  const std::string base_source =
      base.contains("source") && base["source"].is_string() ? base["source"].get<std::string>()
                                                            : std::string("unstated");
  out["source"] = "MEASURED on " + device + " by `" + command + "`: " + measured_list +
                  ". Not measured, so carried from " + base_origin + ": " + carried_list +
                  (carried_list.empty() ? "" : "; and ") +
                  "each phase's tokens, moe_layers, split_align, comm_sms and other. " +
                  base_origin + "'s source reads: " + base_source;
  return out;
}

}  // namespace shapejit::planner
