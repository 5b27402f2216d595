#include "shapejit/runtime/manifest.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/op_shape.hpp"

namespace shapejit::runtime {
namespace {
constexpr long long kMaxSms = 1024;
}  // namespace

Manifest parse_manifest(const std::string& text, DeviceInfo target, const std::string& origin,
                        const TunedConfigs* tuned) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(Errc::invalid_argument, origin + ": not valid JSON: " + e.what());
  }
  const nlohmann::json* entries = &doc;
  Manifest m;
  if (doc.is_object()) {
    for (const auto& [name, value] : doc.items())
      if (name != "target" && name != "kernels")
        fail(Errc::invalid_argument, origin + ": unknown field '" + name + "' (fields: target, kernels)");
    if (doc.contains("target")) {
      try {
        const OpShape t(doc["target"], "target", {"arch", "num_sms"});
        if (t.has("arch")) {
          target.arch = t.text("arch");
          jit::check_arch(target.arch);
          m.sets_arch = true;
        }
        target.num_sms = t.integer("num_sms", 1, kMaxSms, target.num_sms);
        m.sets_num_sms = t.has("num_sms");
      } catch (const Error& e) {
        fail(Errc::invalid_argument, origin + ": " + e.what());
      }
    }
    if (!doc.contains("kernels")) fail(Errc::invalid_argument, origin + ": missing \"kernels\" array");
    entries = &doc["kernels"];
  }
  if (!entries->is_array()) fail(Errc::invalid_argument, origin + ": \"kernels\" must be an array");

  m.target = target;
  std::set<std::string> seen;
  size_t index = 0;
  for (const auto& entry : *entries) {
    const std::string where = origin + ": kernels[" + std::to_string(index++) + "]";
    try {
      if (!entry.is_object()) fail(Errc::invalid_argument, "must be an object");
      std::vector<jit::KernelSpec> specs;
      if (entry.contains("spec")) {
        if (!entry["spec"].is_string()) fail(Errc::invalid_argument, "\"spec\" must be a string");
        if (entry.size() != 1) fail(Errc::invalid_argument, "a \"spec\" entry has no other fields");
        specs.push_back(jit::resolve_spec(entry["spec"].get<std::string>()));
      } else if (entry.contains("op")) {
        if (!entry["op"].is_string()) fail(Errc::invalid_argument, "\"op\" must be a string");
        specs = find_op_family(entry["op"].get<std::string>()).specs_for(entry, target, tuned);
        m.op_entries.emplace_back(entry["op"].get<std::string>(), entry.dump());
      } else {
        fail(Errc::invalid_argument, "needs \"op\" (with its shape fields) or \"spec\"");
      }
      for (auto& s : specs)
        if (seen.insert(s.canonical()).second) m.specs.push_back(std::move(s));
    } catch (const Error& e) {
      fail(Errc::invalid_argument, where + ": " + e.what());
    }
  }
  return m;
}

Manifest load_manifest(const std::filesystem::path& path, DeviceInfo target, const TunedConfigs* tuned) {
  std::ifstream in(path);
  if (!in) fail(Errc::invalid_argument, "cannot read manifest " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_manifest(ss.str(), std::move(target), path.string(), tuned);
}

}  // namespace shapejit::runtime
