// How a candidate's fate is decided from facts: pruning from its compile report, and the
// winner rule over interleaved measurements.
#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {
namespace {

// Hopper: 64K 32-bit registers per SM, at most 255 per thread.
constexpr int kRegistersPerSm = 65536;
constexpr int kMaxRegistersPerThread = 255;

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[200];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

std::string prune_reason(const jit::CompileResult& r, const Candidate& c, const DeviceInfo& target) {
  if (r.spill_store_bytes > 0 || r.spill_load_bytes > 0)
    return "spills: " + std::to_string(r.spill_store_bytes) + " B stored, " + std::to_string(r.spill_load_bytes) +
           " B loaded to local memory";
  if (r.registers > kMaxRegistersPerThread)
    return "registers: " + std::to_string(r.registers) + " per thread, the limit is " +
           std::to_string(kMaxRegistersPerThread);
  // The kernel's block size is not in the compile report; for GEMM BLOCK_M fixes it.
  int threads = 0;
  if (c.spec.family == "gemm") {
    GemmConfig g;
    g.block_m = static_cast<int>(nlohmann::json::parse(c.config_json).value("BLOCK_M", 0));
    if (g.block_m > 0) threads = g.threads();
  }
  if (r.registers > 0 && threads > 0 && r.registers * threads > kRegistersPerSm)
    return "registers: " + std::to_string(r.registers) + " per thread × " + std::to_string(threads) +
           " threads exceed the SM's " + std::to_string(kRegistersPerSm);
  if (target.max_smem_per_block_optin > 0 && r.static_smem_bytes > target.max_smem_per_block_optin)
    return "shared memory: " + std::to_string(r.static_smem_bytes) + " B static, the device allows " +
           std::to_string(target.max_smem_per_block_optin);
  return {};
}

int select_winner(const Measurement& baseline, const std::vector<Measurement>& finalists, std::string* why,
                  double min_gain) {
  int best = -1;
  for (std::size_t i = 0; i < finalists.size(); ++i)
    if (finalists[i].runs > 0 && (best < 0 || finalists[i].median_us < finalists[static_cast<std::size_t>(best)].median_us))
      best = static_cast<int>(i);
  if (best < 0) {
    if (why) *why = "no finalist: the heuristic's pick stays";
    return -1;
  }
  const Measurement& w = finalists[static_cast<std::size_t>(best)];
  // NOTES: run-to-run noise on H800 reaches 20 % (DeepGEMM#136); a gain inside the spread of
  // either side is not evidence, so it does not replace the heuristic.
  const double noise = std::max({w.spread_us, baseline.spread_us, min_gain * baseline.median_us});
  const double gain = baseline.median_us - w.median_us;
  if (gain > noise) {
    if (why) *why = fmt("%.3gx over the heuristic: %.2f us vs %.2f us", baseline.median_us / w.median_us,
                        w.median_us, baseline.median_us) +
                    fmt(", beyond the noise of %.2f us", noise);
    return best;
  }
  if (why)
    *why = fmt("the best finalist (%.2f us) does not beat the heuristic (%.2f us) by more than the noise", w.median_us,
               baseline.median_us) +
           fmt(" (%.2f us): the heuristic's pick stays", noise);
  return -1;
}

}  // namespace shapejit::runtime::tuning
