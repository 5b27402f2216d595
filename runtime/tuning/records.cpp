// Tuning records read back: sessions and their records, and the winners that hold for a device
// (what the runtime consults before the GEMM heuristic).
#include <algorithm>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "gemm_tuning.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/runtime/tuning_records.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning {

std::vector<cache::TuningSession> list_sessions(cache::KernelStore& store) { return store.tuning_sessions(); }

std::vector<cache::TuningRecord> session_records(cache::KernelStore& store, const std::string& id) {
  std::vector<cache::TuningRecord> v = store.tuning_records(cache::TuningQuery{.session = id});
  std::stable_sort(v.begin(), v.end(), [](const cache::TuningRecord& a, const cache::TuningRecord& b) {
    return std::tie(a.spec_family, a.shape_json) < std::tie(b.spec_family, b.shape_json);
  });
  return v;
}

namespace {

// The current version of the definition behind an op's records (empty: not tunable here).
std::string current_definition_version(const std::string& op) {
  static std::mutex mutex;
  static std::map<std::string, std::string> memo;
  std::lock_guard lock(mutex);
  if (auto it = memo.find(op); it != memo.end()) return it->second;
  std::string v;
  if (op == "gemm_bf16")
    v = definition_version(gemm_definition(GemmKind::bf16));
  else if (detail::is_gemm_op(op))
    v = definition_version(gemm_definition(GemmKind::fp8_1d2d));
  return memo[op] = v;
}

}  // namespace

std::string mismatch(const cache::TuningRecord& r, const DeviceInfo& target) {
  const std::string current = current_definition_version(r.spec_family);
  if (current.empty()) return kIgnoredUnknownOp;
  if (r.device != target.name) return kIgnoredDevice;
  if (r.arch != (target.arch.empty() ? "sm_90a" : target.arch)) return kIgnoredArch;
  if (r.num_sms != target.num_sms) return kIgnoredSms;
  if (r.driver_version != target.driver_version) return kIgnoredDriver;
  if (r.nvrtc_version != jit::nvrtc_identity()) return kIgnoredNvrtc;
  if (r.definition_version != current) return kIgnoredDefinition;
  return {};
}

RecordSelection select_records(const std::vector<cache::TuningRecord>& winners, const DeviceInfo& target) {
  RecordSelection sel;
  for (const cache::TuningRecord& r : winners) {
    if (r.status != cache::kTuningWinner) continue;
    if (const std::string why = mismatch(r, target); !why.empty()) {
      ++sel.ignored[why];
      continue;
    }
    const std::string key = r.spec_family + "\n" + r.shape_json;
    auto it = sel.winners.find(key);
    if (it == sel.winners.end() || r.measured_at >= it->second.measured_at) sel.winners[key] = r;
  }
  for (const auto& [k, r] : sel.winners) sel.baseline_winners += r.baseline;
  return sel;
}

RecordSelection select_records(cache::KernelStore& store, const DeviceInfo& target) {
  return select_records(store.tuning_records(cache::TuningQuery{.status = cache::kTuningWinner}), target);
}

std::optional<GemmConfig> tuned_gemm_config(const std::vector<cache::TuningRecord>& winners,
                                            const GemmProblem& problem, const DeviceInfo& device) {
  const std::string op = gemm_op(problem), shape = gemm_shape_json(problem);
  const cache::TuningRecord* best = nullptr;
  for (const cache::TuningRecord& r : winners)
    if (r.status == cache::kTuningWinner && r.spec_family == op && r.shape_json == shape &&
        mismatch(r, device).empty() && (!best || r.measured_at >= best->measured_at))
      best = &r;
  if (!best || best->baseline) return std::nullopt;   // the heuristic's pick won
  std::optional<GemmConfig> c = gemm_config_of(*best, problem);
  // A record that no longer makes a valid config (another device limit) is not used.
  if (c && !gemm_config_valid(problem, *c, device)) return std::nullopt;
  return c;
}

TunedGemmConfigs::TunedGemmConfigs(cache::KernelStore& store) {
  for (cache::TuningRecord& r : store.tuning_records(cache::TuningQuery{.status = cache::kTuningWinner}))
    if (detail::is_gemm_op(r.spec_family)) winners_.push_back(std::move(r));
}

std::optional<GemmConfig> TunedGemmConfigs::find(const GemmProblem& problem, const DeviceInfo& device) const {
  return tuned_gemm_config(winners_, problem, device);
}

}  // namespace shapejit::runtime::tuning
