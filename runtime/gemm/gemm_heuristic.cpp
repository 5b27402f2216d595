#include "shapejit/runtime/gemm_heuristic.hpp"

#include <algorithm>

#include "gemm/gemm_layout.cuh"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"

namespace shapejit::runtime {
namespace {

constexpr int kMaxStages = 12;

int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// The device's opt-in limit, at most what the kernels' layout allows.
int smem_limit(const DeviceInfo& dev) {
  return dev.max_smem_per_block_optin > 0
             ? std::min(dev.max_smem_per_block_optin, static_cast<int>(kernels::kGemmMaxSmemBytes))
             : kernels::kGemmMaxSmemBytes;
}

int out_bytes(const GemmProblem& p) { return p.kind == GemmKind::bf16 && p.out_fp32 ? 4 : 2; }

// Tiles the persistent grid walks.
long long num_tiles(const GemmProblem& p, int block_m, int block_n) {
  const int m = std::max(p.m, 1);
  const long long m_blocks = ceil_div(m, block_m), n_blocks = ceil_div(p.n, block_n);
  const long long groups = p.layout == GemmLayout::grouped_masked ? p.num_groups : 1;
  return groups * m_blocks * n_blocks;
}

struct Score {
  long long waves, last_wave, area;
  bool better_than(const Score& o) const {
    if (waves != o.waves) return waves < o.waves;
    if (last_wave != o.last_wave) return last_wave > o.last_wave;
    return area > o.area;
  }
};

Score score(long long tiles, int num_sms, int block_m, int block_n) {
  const long long waves = (tiles + num_sms - 1) / num_sms;
  return {waves, tiles - (waves - 1) * num_sms, static_cast<long long>(block_m) * block_n};
}

int swizzle_for(int block_n, int bytes) {
  for (int s : {128, 64, 32})
    if ((block_n * bytes) % s == 0) return s;
  return 0;
}

}  // namespace

int gemm_m_bucket(int m) {
  if (m < 1) fail(Errc::invalid_argument, "gemm: M must be at least 1 to pick a bucket");
  int b = 64;
  while (b < m && b < 16384) b *= 2;
  if (m <= b) return b;
  return ceil_div(m, 16384) * 16384;
}

std::vector<int> gemm_m_bucket_bounds() {
  std::vector<int> v;
  for (int b = 64; b <= 16384; b *= 2) v.push_back(b);
  return v;
}

const jit::KernelDefinition& gemm_definition(GemmKind kind) {
  return jit::find_kernel_definition(
      "gemm", kind == GemmKind::fp8_1d2d ? "sm90_fp8_gemm_1d2d" : "sm90_bf16_gemm");
}

std::vector<int> gemm_block_n_candidates(GemmKind kind) {
  std::vector<int> v;
  for (long long n : gemm_definition(kind).find("BLOCK_N")->values()) v.push_back(static_cast<int>(n));
  return v;
}

int GemmConfig::threads() const { return kernels::gemm_threads(block_m); }

int gemm_smem_bytes(GemmKind kind, int block_m, int block_n, int num_stages, bool out_fp32) {
  const kernels::GemmSmemLayout layout =
      kind == GemmKind::fp8_1d2d ? kernels::fp8_gemm_smem(block_m, block_n, num_stages)
                                 : kernels::bf16_gemm_smem(block_m, block_n, num_stages, out_fp32);
  return layout.dynamic_bytes();
}

GemmConfig heuristic_gemm_config(const GemmProblem& p, const DeviceInfo& dev) {
  const int num_sms = std::max(dev.num_sms, 1);
  const int limit = smem_limit(dev);
  const int block_k = p.kind == GemmKind::fp8_1d2d ? 128 : 64;
  GemmConfig best;
  Score best_score{};
  bool have = false;
  for (int block_m : {64, 128}) {
    // NOTES: at most 64 rows per group in use, a 128-row tile computes at least half padding.
    if (p.layout == GemmLayout::grouped_contiguous) {
      // The group alignment fixes the tile height: the largest BLOCK_M dividing it.
      if (block_m != (p.align_m % 128 == 0 ? 128 : 64)) continue;
    } else if (block_m == 128 && p.m <= 64) {
      continue;
    }
    for (int block_n : gemm_block_n_candidates(p.kind)) {
      // NOTES: an FP8 tile whose columns straddle 128-wide B-scale blocks selects a scale per
      // 8 columns in every promotion; on H100 at M = 4096 that cost 18-30 % (BLOCK_N 112/144/160
      // vs 128, docs/gemm.md). Once the grid has many tiles (M > 128), only BLOCK_N dividing
      // 128 is considered; small M stays memory-bound and keeps every width.
      if (p.kind == GemmKind::fp8_1d2d && p.m > 128 && 128 % block_n != 0) continue;
      if (gemm_smem_bytes(p.kind, block_m, block_n, 2, p.out_fp32) > limit) continue;
      const Score s = score(num_tiles(p, block_m, block_n), num_sms, block_m, block_n);
      if (!have || s.better_than(best_score)) {
        have = true;
        best_score = s;
        best = GemmConfig{};
        best.block_m = block_m;
        best.block_n = block_n;
      }
    }
  }
  if (!have) fail(Errc::unsupported, "gemm: no tile configuration fits the device's shared memory");
  best.block_k = block_k;
  best.num_sms = num_sms;
  best.swizzle_d_bytes = swizzle_for(best.block_n, out_bytes(p));

  // No multicast: 2-CTA pairs measured slower on H100 (M = 4096: 850 → 525 TFLOPS, BLOCK_N 128).
  int stages = 1;
  while (stages < kMaxStages &&
         gemm_smem_bytes(p.kind, best.block_m, best.block_n, stages + 1, p.out_fp32) <= limit)
    ++stages;
  best.num_stages = stages;
  best.smem_bytes = gemm_smem_bytes(p.kind, best.block_m, best.block_n, stages, p.out_fp32);
  return best;
}

namespace {
thread_local const ForcedGemmConfig* forced_config = nullptr;
}  // namespace

ForcedGemmConfig::ForcedGemmConfig(const GemmConfig& config) : previous_(forced_config), config_(config) {
  forced_config = this;
}
ForcedGemmConfig::ForcedGemmConfig(const GemmConfigLookup& rule) : previous_(forced_config), rule_(&rule) {
  forced_config = this;
}
ForcedGemmConfig::~ForcedGemmConfig() { forced_config = previous_; }

std::optional<GemmConfig> ForcedGemmConfig::config_for(const GemmProblem& problem, const DeviceInfo& device) const {
  if (rule_) return rule_->find(problem, device);
  return config_;
}

GemmConfig choose_gemm_config(const GemmProblem& problem, const DeviceInfo& device,
                              const GemmConfigLookup* tuned) {
  GemmProblem p = problem;
  p.m = gemm_m_bucket(std::max(problem.m, 1));
  if (forced_config) {
    if (auto c = forced_config->config_for(p, device)) {
      std::string why;
      if (!gemm_config_valid(p, *c, device, &why))
        fail(Errc::invalid_argument, "gemm: the forced config is invalid: " + why);
      return *c;
    }
  }
  if (tuned) {
    if (auto c = tuned->find(p, device)) {
      std::string why;
      if (!gemm_config_valid(p, *c, device, &why))
        fail(Errc::invalid_argument, "gemm: the tuned config is invalid: " + why);
      return *c;
    }
  }
  return heuristic_gemm_config(p, device);
}

bool gemm_config_valid(const GemmProblem& p, const GemmConfig& c, const DeviceInfo& dev,
                       std::string* why) {
  auto no = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  const int limit = smem_limit(dev);
  const int block_k = p.kind == GemmKind::fp8_1d2d ? 128 : 64;
  // The kernel's own rules (tile, stages, multicast, swizzle, grid) come from its definition.
  try {
    gemm_kernel_spec(p, c, dev);
  } catch (const Error& e) {
    return no(e.what());
  }
  if (c.block_k != block_k) return no("BLOCK_K must be " + std::to_string(block_k));
  // The persistent grid stays within the SMs the caller allows (Runtime::set_num_sms).
  if (dev.num_sms > 0 && c.num_sms > dev.num_sms)
    return no("NUM_SMS = " + std::to_string(c.num_sms) + " exceeds the " +
              std::to_string(dev.num_sms) + " SMs available");
  const int smem = gemm_smem_bytes(p.kind, c.block_m, c.block_n, c.num_stages, p.out_fp32);
  if (c.smem_bytes != smem) return no("smem_bytes does not match the tile and stages");
  if (smem > limit)
    return no("needs " + std::to_string(smem) + " B of shared memory, the device allows " +
              std::to_string(limit));
  if (p.layout == GemmLayout::grouped_contiguous && p.align_m % c.block_m != 0)
    return no("contiguous groups are aligned to " + std::to_string(p.align_m) +
              " rows, which BLOCK_M must divide");
  return true;
}

jit::KernelSpec gemm_kernel_spec(const GemmProblem& p, const GemmConfig& c, const DeviceInfo& dev,
                                 int fixed_m) {
  jit::NamedValues v = {{"SHAPE_M", fixed_m},
                        {"SHAPE_N", p.n},
                        {"SHAPE_K", c.test_drop_last_k_block ? p.k - (p.kind == GemmKind::fp8_1d2d ? 128 : 64) : p.k},
                        {"BLOCK_M", c.block_m},
                        {"BLOCK_N", c.block_n},
                        {"kNumStages", c.num_stages},
                        {"kNumMulticast", c.num_multicast},
                        {"kMulticastOnA", c.multicast_on_a},
                        {"kSwizzleDBytes", c.swizzle_d_bytes},
                        {"NUM_SMS", c.num_sms}};
  if (p.kind == GemmKind::fp8_1d2d) {
    v.emplace_back("kGemmType", static_cast<long long>(p.layout));
    v.emplace_back("kNumGroups", p.layout == GemmLayout::grouped_masked ? p.num_groups : 1);
  } else {
    v.emplace_back("kOutFP32", p.out_fp32);
  }
  return gemm_definition(p.kind).spec(v, dev.arch.empty() ? "sm_90a" : dev.arch);
}

}  // namespace shapejit::runtime
