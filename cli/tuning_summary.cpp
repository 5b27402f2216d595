#include "tuning_summary.hpp"

#include <algorithm>
#include <map>

#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/tuned_configs.hpp"
#include "shapejit/runtime/tuning.hpp"

namespace shapejit::cli {
namespace {

runtime::DeviceInfo record_target() {
  return runtime::driver_available() ? runtime::current_device() : runtime::default_target_device();
}

}  // namespace

nlohmann::json tuning_summary(cache::KernelStore& store) {
  const runtime::DeviceInfo target = record_target();
  std::map<std::string, long long> by_status;
  for (const cache::TuningRecord& r : store.tuning_records(cache::TuningQuery{})) ++by_status[r.status];
  const runtime::tuning::RecordSelection sel = runtime::tuning::select_records(store, target);
  std::map<std::string, long long> usable_by_op;
  for (const auto& [key, r] : sel.winners) ++usable_by_op[r.spec_family];
  return {{"target", runtime::tuning::context_identity(runtime::tuning::context_of(target))},
          {"sessions", store.tuning_sessions().size()},
          {"records_by_status", by_status},
          {"winners_usable", sel.winners.size()},
          {"winners_keeping_the_heuristic", sel.baseline_winners},
          {"winners_usable_by_op", usable_by_op},
          {"winners_ignored", sel.ignored},
          {"winners_ignored_by_op", sel.ignored_by_op}};
}

std::string tuning_summary_line(const nlohmann::json& s) {
  std::string line = std::to_string(s["winners_usable"].get<long long>()) + " winners hold for " +
                     s["target"].get<std::string>();
  std::string by_op;
  if (s.contains("winners_usable_by_op"))
    for (const auto& [op, n] : s["winners_usable_by_op"].items())
      by_op += (by_op.empty() ? "" : ", ") + op + " " + std::to_string(n.get<long long>());
  if (!by_op.empty()) line += " (" + by_op + ")";
  std::string ignored;
  for (const auto& [why, n] : s["winners_ignored"].items())
    ignored += (ignored.empty() ? "" : ", ") + std::to_string(n.get<long long>()) + " " + why;
  return line + (ignored.empty() ? "" : "; ignored: " + ignored);
}

std::set<std::string> tuned_specs(cache::KernelStore& store) {
  const runtime::DeviceInfo target = record_target();
  const runtime::TunedConfigs all(store);
  std::set<std::string> specs;
  for (const auto& [key, r] : runtime::tuning::select_records(store, target).winners) {
    if (r.baseline) continue;
    if (!r.spec.empty()) specs.insert(r.spec);
    // The op's call with and without the winners: the kernels only the tuned call loads.
    try {
      const runtime::OpFamily& family = runtime::find_op_family(r.spec_family);
      const nlohmann::json shape = nlohmann::json::parse(r.shape_json);
      const std::vector<jit::KernelSpec> plain = family.specs_for(shape, target);
      for (const jit::KernelSpec& s : family.specs_for(shape, target, &all))
        if (std::find(plain.begin(), plain.end(), s) == plain.end()) specs.insert(s.canonical());
    } catch (const std::exception&) {
      // A shape this build's op no longer takes: the record's own spec is all there is to mark.
    }
  }
  return specs;
}

}  // namespace shapejit::cli
