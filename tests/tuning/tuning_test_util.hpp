#pragma once
// Shared by the tuning tests: a scratch database, a target, and an injected measuring step.
// The injected measurer gives times from a formula of the config, so the tests check the
// session's logic (what is recorded, reused, resumed, chosen), never speed.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/tuning.hpp"

namespace shapejit::tuning_test {

inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("shapejit-tuning-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline cache::StoreOptions quiet() {
  cache::StoreOptions o;
  o.on_bypass = [](const std::string&) {};
  o.on_corrupt = [](const std::string&) {};
  return o;
}

// An H100-like target with a driver version, as the session and the runtime see it.
inline runtime::DeviceInfo target() {
  runtime::DeviceInfo d = runtime::default_target_device();
  d.name = "Test H100";
  d.driver_version = 13000;
  return d;
}

inline int config_value(const runtime::tuning::Candidate& c, const char* name) {
  return nlohmann::json::parse(c.config_json).at(name).get<int>();
}

// Times: 100 us for the heuristic's pick, faster for wider BLOCK_N (by `gain_per_16`),
// spread `spread`. Candidates for which `wrong` holds fail the reference check.
class FormulaMeasurer : public runtime::tuning::Measurer {
 public:
  std::function<bool(const runtime::tuning::Candidate&)> wrong = [](const auto&) { return false; };
  double gain_per_16 = 2.0, spread = 0.5;
  int sleep_ms = 0;
  std::string why_unavailable;
  std::atomic<int> checks{0}, measures{0};
  std::map<std::string, int> measured_configs;   // config text → measure() calls
  double reference_us = 0;                        // > 0: a reference row of this time per shape
  std::atomic<int> references{0};

  std::string unavailable() override { return why_unavailable; }
  std::string check(const runtime::tuning::Candidate& c) override {
    ++checks;
    return wrong(c) ? "diff 0.5 against the reference (made wrong on purpose)" : "";
  }
  runtime::tuning::Measurement measure(const runtime::tuning::Candidate& c, int runs) override {
    ++measures;
    ++measured_configs[c.shape_json + c.config_json];
    if (sleep_ms) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    const double t = c.baseline ? 100.0 : 100.0 - gain_per_16 * (config_value(c, "BLOCK_N") / 16.0) +
                                              (config_value(c, "kNumMulticast") - 1) * 7.0;
    return {t, spread, runs};
  }
  std::optional<runtime::tuning::ReferenceMeasurement> measure_reference(const runtime::tuning::Candidate&,
                                                                         int runs) override {
    if (reference_us <= 0) return std::nullopt;
    ++references;
    return runtime::tuning::ReferenceMeasurement{"fake cuBLASLt", {reference_us, spread, runs}, ""};
  }
};

// A compile step that needs no NVRTC: a clean report, or spills for configs `spills` picks.
inline std::function<jit::CompileResult(const jit::KernelSpec&)> fake_compile(
    std::function<bool(const jit::KernelSpec&)> spills = nullptr) {
  return [spills](const jit::KernelSpec& spec) {
    jit::CompileResult r;
    r.registers = 128;
    r.cubin = {1, 2, 3};
    if (spills && spills(spec)) r.spill_store_bytes = r.spill_load_bytes = 64;
    return r;
  };
}

// A two-shape manifest of the FP8 GEMM.
inline std::string two_shapes() {
  return R"({"kernels":[{"op":"gemm_fp8","m":64,"n":2112,"k":7168},{"op":"gemm_fp8","m":4096,"n":7168,"k":2048}]})";
}

}  // namespace shapejit::tuning_test
