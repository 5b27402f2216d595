// Tuning records read back: sessions and their records, and the winners that hold for a device
// (what the runtime consults before its heuristics).
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "gemm_tuning.hpp"
#include "mla_tuning.hpp"
#include "moe_tuning.hpp"
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

// The kernel definition whose version an op's records carry (Candidate::definition_version),
// from the record's config. One line per tunable op: a winner of an op missing here is ignored
// as kIgnoredUnknownOp, so a family's records take effect only once its definition is named.
using DefinitionOf = const jit::KernelDefinition& (*)(const nlohmann::json& config);
const jit::KernelDefinition& fp8_gemm(const nlohmann::json&) { return gemm_definition(GemmKind::fp8_1d2d); }
const jit::KernelDefinition& bf16_gemm(const nlohmann::json&) { return gemm_definition(GemmKind::bf16); }
constexpr std::pair<std::string_view, DefinitionOf> kRecordDefinitions[] = {
    {"gemm_fp8", fp8_gemm},
    {"gemm_bf16", bf16_gemm},
    {"gemm_fp8_grouped_contiguous", fp8_gemm},
    {"gemm_fp8_grouped_masked", fp8_gemm},
    {"mla_decode", detail::mla_record_definition},
    {"moe_dispatch", detail::moe_dispatch_record_definition},
    {"moe_swiglu", detail::moe_swiglu_record_definition},
    {"moe_combine", detail::moe_combine_record_definition},
};

// The current version of the definition behind a record; nullopt: not an op this build tunes;
// "": its config does not parse (no definition can match).
std::optional<std::string> current_definition_version(const cache::TuningRecord& r) {
  DefinitionOf of = nullptr;
  for (const auto& [op, f] : kRecordDefinitions)
    if (op == r.spec_family) of = f;
  if (!of) return std::nullopt;
  const jit::KernelDefinition* def = nullptr;
  try {
    def = &of(r.config_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.config_json));
  } catch (const std::exception&) {
    return std::string();
  }
  static std::mutex mutex;
  static std::map<const jit::KernelDefinition*, std::string> memo;   // hashing the headers once
  std::lock_guard lock(mutex);
  auto it = memo.find(def);
  if (it == memo.end()) it = memo.emplace(def, definition_version(*def)).first;
  return it->second;
}

}  // namespace

void stamp_context(cache::TuningRecord& r, const TuningContext& c) {
  r.device = c.device;
  r.arch = c.arch;
  r.num_sms = c.num_sms;
  r.driver_version = c.driver_version;
  r.nvrtc_version = c.nvrtc_version;
}

std::string mismatch(const cache::TuningRecord& r, const DeviceInfo& target) {
  const std::optional<std::string> current = current_definition_version(r);
  if (!current) return kIgnoredUnknownOp;
  if (r.device != target.name) return kIgnoredDevice;
  if (r.arch != (target.arch.empty() ? "sm_90a" : target.arch)) return kIgnoredArch;
  if (r.num_sms != target.num_sms) return kIgnoredSms;
  if (r.driver_version != target.driver_version) return kIgnoredDriver;
  if (r.nvrtc_version != jit::nvrtc_identity()) return kIgnoredNvrtc;
  if (current->empty() || r.definition_version != *current) return kIgnoredDefinition;
  return {};
}

RecordSelection select_records(const std::vector<cache::TuningRecord>& winners, const DeviceInfo& target) {
  RecordSelection sel;
  for (const cache::TuningRecord& r : winners) {
    if (r.status != cache::kTuningWinner) continue;
    if (const std::string why = mismatch(r, target); !why.empty()) {
      ++sel.ignored[why];
      ++sel.ignored_by_op[r.spec_family][why];
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

std::optional<GemmConfig> tuned_gemm_config(std::vector<cache::TuningRecord> winners, const GemmProblem& problem,
                                            const DeviceInfo& device) {
  const TunedConfigs all(std::move(winners));
  return all.gemm()->find(problem, device);
}

std::optional<GemmConfig> TunedGemmConfigs::find(const GemmProblem& problem, const DeviceInfo& device) const {
  const std::optional<cache::TuningRecord> r = all_.find(gemm_op(problem), gemm_shape_json(problem), device);
  if (!r) return std::nullopt;
  std::optional<GemmConfig> c = gemm_config_of(*r, problem);
  if (c && c->test_drop_last_k_block) return std::nullopt;   // a test's wrong kernel: never run
  // A record that no longer makes a valid config (another device limit) is not used.
  if (c && !gemm_config_valid(problem, *c, device)) return std::nullopt;
  return c;
}

}  // namespace shapejit::runtime::tuning
