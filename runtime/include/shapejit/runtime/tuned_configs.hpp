#pragma once
// The tuning winners a Runtime consults before its heuristics, for every tunable op: the winner
// records of its cache database, read once when the runtime is created (docs/tuning.md).
//
// How a family consumes it: its front end asks runtime.tuned(op, shape_json, target) (or
// tuned_configs()->find) with the op's name and the shape text its search space writes into
// Candidate::shape_json (one function makes both, so they cannot drift apart), and on a hit
// parses record.config_json into its own config, checks it against the device and applies it;
// nullopt (records off, no database, no winner for the shape, a winner measured on another
// device, arch, SM count, driver, NVRTC or definition version, or the heuristic's own pick won)
// means: exactly what the heuristic does. The family's OpFamily::specs function is given the
// same lookup, so precompile compiles the kernels the tuned call loads. A new op also adds one
// line to the definition table in runtime/tuning/records.cpp, or its winners are ignored.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shapejit/cache/kernel_record.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::cache {
class KernelStore;
}

namespace shapejit::runtime {

class GemmConfigLookup;   // gemm_heuristic.hpp

class TunedConfigs {
 public:
  // The winner records among `records` (other statuses are dropped).
  explicit TunedConfigs(std::vector<cache::TuningRecord> records);
  // The winner records of a database.
  explicit TunedConfigs(cache::KernelStore& store);
  ~TunedConfigs();
  TunedConfigs(const TunedConfigs&) = delete;
  TunedConfigs& operator=(const TunedConfigs&) = delete;

  // The newest winner for (op, shape) that holds for `device` (tuning::mismatch is empty);
  // nullopt when there is none or when that winner is the heuristic's own pick (nothing to
  // change).
  std::optional<cache::TuningRecord> find(std::string_view op, std::string_view shape_json,
                                          const DeviceInfo& device) const;
  // Whether any winner of `op` is held (a cheap test before a family builds its shape text).
  bool has(std::string_view op) const;
  long long size() const { return size_; }   // winner records held, every op and device

  // GEMM's view (choose_gemm_config): find() for the problem's op and M bucket, the config
  // checked by gemm_config_valid.
  const GemmConfigLookup* gemm() const { return gemm_.get(); }

 private:
  // By op, then shape text; newest first.
  std::map<std::string, std::map<std::string, std::vector<cache::TuningRecord>, std::less<>>, std::less<>> winners_;
  long long size_ = 0;
  std::unique_ptr<const GemmConfigLookup> gemm_;
};

// GEMM's view of a lookup that may be absent (nullptr: the heuristic).
inline const GemmConfigLookup* gemm_lookup(const TunedConfigs* tuned) { return tuned ? tuned->gemm() : nullptr; }

}  // namespace shapejit::runtime
