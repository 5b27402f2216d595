// A session's request as JSON (stored with the session, so --resume needs nothing else), and
// the shapes it names.
#include <nlohmann/json.hpp>

#include "session_shapes.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/manifest.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {

std::string request_to_json(const SessionRequest& r) {
  return nlohmann::json{{"ops", r.ops},
                        {"model", r.model},
                        {"manifest", r.manifest_json},
                        {"budget_s", r.budget_s},
                        {"max_candidates", r.space.max_candidates},
                        {"sm_counts", r.space.sm_counts},
                        {"wide", r.space.wide},
                        {"finalists", r.finalists},
                        {"runs", r.runs},
                        {"early_stop_ratio", r.early_stop_ratio}}
      .dump();
}

SessionRequest request_from_json(const std::string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    SessionRequest r;
    r.ops = j.at("ops").get<std::vector<std::string>>();
    r.model = j.at("model").get<std::string>();
    r.manifest_json = j.at("manifest").get<std::string>();
    r.budget_s = j.at("budget_s").get<double>();
    r.space.max_candidates = j.at("max_candidates").get<int>();
    r.space.sm_counts = j.at("sm_counts").get<std::vector<int>>();
    r.space.wide = j.at("wide").get<bool>();
    r.finalists = j.at("finalists").get<int>();
    r.runs = j.at("runs").get<int>();
    r.early_stop_ratio = j.at("early_stop_ratio").get<double>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, std::string("tune: the stored session request does not parse: ") + e.what());
  }
}

namespace detail {

std::vector<std::pair<std::string, std::string>> requested_shapes(const SessionRequest& r, DeviceInfo* target) {
  std::vector<std::string> ops = r.ops;
  if (ops.empty())
    for (const TunableOp& t : tunable_ops()) ops.emplace_back(t.op);
  for (const std::string& op : ops)
    if (!is_tunable(op)) search_space(op, "{}", *target);   // throws naming the tunable ops
  auto wanted = [&](const std::string& op) {
    for (const std::string& o : ops)
      if (o == op) return true;
    return false;
  };
  std::vector<std::pair<std::string, std::string>> shapes;
  if (!r.manifest_json.empty()) {
    // The precompile format, checked entry by entry as precompile checks it; raw specs are not tuned.
    const Manifest m = parse_manifest(r.manifest_json, *target, "tune: manifest");
    *target = m.target;
    for (const auto& [op, entry] : m.op_entries)
      if (wanted(op) && is_tunable(op)) shapes.emplace_back(op, entry);
  } else if (r.model == "deepseek-v3") {
    std::vector<std::string> empty;
    for (const std::string& op : ops) {
      const std::vector<std::string> model_shapes = deepseek_v3_shapes(op);
      if (model_shapes.empty()) empty.push_back(op);
      for (const std::string& s : model_shapes) shapes.emplace_back(op, s);
    }
    // An op asked for by name that the model's set does not hold is an error, not an empty session.
    if (!r.ops.empty() && !empty.empty()) {
      std::string names, with;
      for (const std::string& op : empty) names += (names.empty() ? "" : ", ") + op;
      for (const TunableOp& t : tunable_ops())
        if (!deepseek_v3_shapes(std::string(t.op)).empty()) with += (with.empty() ? "" : ", ") + std::string(t.op);
      fail(Errc::invalid_argument, "tune: the deepseek-v3 shape set has no shapes for " + names +
                                       " (it has shapes for " + with + "); give them in a --manifest");
    }
  } else {
    fail(Errc::invalid_argument, "tune: a session needs a model (deepseek-v3) or a manifest");
  }
  return shapes;
}

}  // namespace detail
}  // namespace shapejit::runtime::tuning
