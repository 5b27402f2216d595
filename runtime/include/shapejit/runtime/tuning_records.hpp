#pragma once
// Reading tuning records back: sessions and their records for people and scripts, and the
// winners that hold for a device, which the runtime consults before its heuristics.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuned_configs.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning {

// Sessions, oldest first, and the records one session wrote (by shape, then fastest first).
std::vector<cache::TuningSession> list_sessions(cache::KernelStore& store);
std::vector<cache::TuningRecord> session_records(cache::KernelStore& store, const std::string& id);

// Why a winner record does not apply to a device (keys of RecordSelection::ignored).
inline constexpr const char* kIgnoredDevice = "other device";
inline constexpr const char* kIgnoredSms = "other SM count";
inline constexpr const char* kIgnoredArch = "other arch";
inline constexpr const char* kIgnoredDriver = "other driver";
inline constexpr const char* kIgnoredNvrtc = "other NVRTC";
inline constexpr const char* kIgnoredDefinition = "other kernel definition";
inline constexpr const char* kIgnoredUnknownOp = "op whose winners this build does not use";

// The winners that hold for `target`, newest per (op, shape), and why the others do not.
struct RecordSelection {
  std::map<std::string, cache::TuningRecord> winners;   // by op + "\n" + shape_json
  std::map<std::string, long long> ignored;             // reason → records
  std::map<std::string, std::map<std::string, long long>> ignored_by_op;   // op → reason → records
  long long baseline_winners = 0;                       // the heuristic's pick won: nothing to change
};
// Fills what a record holds for: the context's device, arch, SMs, driver and NVRTC.
void stamp_context(cache::TuningRecord& record, const TuningContext& context);

// Why `record` does not hold for `target`; empty when it does.
std::string mismatch(const cache::TuningRecord& record, const DeviceInfo& target);
RecordSelection select_records(const std::vector<cache::TuningRecord>& winners, const DeviceInfo& target);
RecordSelection select_records(cache::KernelStore& store, const DeviceInfo& target);

// GEMM: the shape text a problem is recorded under (M at its bucket), the op it belongs to,
// and a record's config as a GemmConfig (nullopt when the record does not parse).
std::string gemm_shape_json(const GemmProblem& problem);
std::string gemm_op(const GemmProblem& problem);
std::optional<GemmConfig> gemm_config_of(const cache::TuningRecord& record, const GemmProblem& problem);

// The GEMM config a winner among `winners` gives the problem on the device (nullopt: use the
// heuristic); TunedConfigs(winners).gemm()->find(problem, device).
std::optional<GemmConfig> tuned_gemm_config(std::vector<cache::TuningRecord> winners,
                                            const GemmProblem& problem, const DeviceInfo& device);
// GEMM's view of a Runtime's winners (TunedConfigs::gemm(), Runtime::gemm_tuning()): the winner
// for the problem's op and M bucket that holds for the device, as a GemmConfig that
// gemm_config_valid accepts there.
class TunedGemmConfigs final : public GemmConfigLookup {
 public:
  explicit TunedGemmConfigs(const TunedConfigs& all) : all_(all) {}
  std::optional<GemmConfig> find(const GemmProblem& problem, const DeviceInfo& device) const override;

 private:
  const TunedConfigs& all_;
};

}  // namespace shapejit::runtime::tuning
