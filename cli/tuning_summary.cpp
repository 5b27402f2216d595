#include "tuning_summary.hpp"

#include <map>

#include "shapejit/runtime/driver_api.hpp"
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
  return {{"target", runtime::tuning::context_identity(runtime::tuning::context_of(target))},
          {"sessions", store.tuning_sessions().size()},
          {"records_by_status", by_status},
          {"winners_usable", sel.winners.size()},
          {"winners_keeping_the_heuristic", sel.baseline_winners},
          {"winners_ignored", sel.ignored}};
}

std::string tuning_summary_line(const nlohmann::json& s) {
  std::string line = std::to_string(s["winners_usable"].get<long long>()) + " winners hold for " +
                     s["target"].get<std::string>();
  std::string ignored;
  for (const auto& [why, n] : s["winners_ignored"].items())
    ignored += (ignored.empty() ? "" : ", ") + std::to_string(n.get<long long>()) + " " + why;
  return line + (ignored.empty() ? "" : "; ignored: " + ignored);
}

std::set<std::string> tuned_specs(cache::KernelStore& store) {
  std::set<std::string> specs;
  for (const auto& [key, r] : runtime::tuning::select_records(store, record_target()).winners)
    if (!r.baseline && !r.spec.empty()) specs.insert(r.spec);
  return specs;
}

}  // namespace shapejit::cli
