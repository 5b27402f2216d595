// The winners a Runtime consults, for every op, and GEMM's view of them.
#include "shapejit/runtime/tuned_configs.hpp"

#include <algorithm>

#include "gemm_tuning.hpp"
#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuning_records.hpp"

namespace shapejit::runtime {

TunedConfigs::TunedConfigs(std::vector<cache::TuningRecord> records) {
  for (cache::TuningRecord& r : records) {
    if (r.status != cache::kTuningWinner) continue;
    auto& by_shape = winners_[r.spec_family];
    by_shape[r.shape_json].push_back(std::move(r));
    ++size_;
  }
  // Newest first; of records measured in the same second, the one stored last.
  for (auto& [op, by_shape] : winners_)
    for (auto& [shape, v] : by_shape) {
      std::reverse(v.begin(), v.end());
      std::stable_sort(v.begin(), v.end(), [](const cache::TuningRecord& a, const cache::TuningRecord& b) {
        return a.measured_at > b.measured_at;
      });
    }
  gemm_ = std::make_unique<const tuning::TunedGemmConfigs>(*this);
}

TunedConfigs::TunedConfigs(cache::KernelStore& store)
    : TunedConfigs(store.tuning_records(cache::TuningQuery{.status = cache::kTuningWinner})) {}

TunedConfigs::~TunedConfigs() = default;

bool TunedConfigs::has(std::string_view op) const { return winners_.find(op) != winners_.end(); }

std::optional<cache::TuningRecord> TunedConfigs::find(std::string_view op, std::string_view shape_json,
                                                      const DeviceInfo& device) const {
  const auto by_op = winners_.find(op);
  if (by_op == winners_.end()) return std::nullopt;
  const auto by_shape = by_op->second.find(shape_json);
  if (by_shape == by_op->second.end()) return std::nullopt;
  for (const cache::TuningRecord& r : by_shape->second)   // newest first
    if (tuning::mismatch(r, device).empty()) {
      if (r.baseline) return std::nullopt;   // the heuristic's pick won
      return r;
    }
  return std::nullopt;
}

}  // namespace shapejit::runtime
