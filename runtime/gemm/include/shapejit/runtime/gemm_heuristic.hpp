#pragma once
// Choice of the GEMM kernel configuration (tile, pipeline depth, multicast, grid) for a shape
// on a device, and the KernelSpec it names. No driver calls: works without a GPU.
//
// M buckets. M is a run-time argument of the kernels, so one compiled kernel serves a range of
// M: a call picks its config for the upper end of M's bucket, which makes the choice (and the
// spec) constant inside a bucket by construction. Upper ends: 64, 128, 256, 512, 1024, 2048,
// 4096, 8192, 16384, then multiples of 16384.
#include <optional>
#include <string>
#include <vector>

#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::runtime {

enum class GemmKind { fp8_1d2d, bf16 };
enum class GemmLayout { normal, grouped_contiguous, grouped_masked };

struct GemmProblem {
  GemmKind kind = GemmKind::fp8_1d2d;
  GemmLayout layout = GemmLayout::normal;
  int m = 0;              // normal: M; contiguous: M_sum; masked: expected rows per group
  int n = 0, k = 0;
  int num_groups = 1;     // grouped layouts: number of groups (experts)
  bool out_fp32 = false;  // BF16 GEMM only: FP32 output
  int align_m = 128;      // contiguous: every group's rows start on a multiple of this (64/128/256)
};

struct GemmConfig {
  int block_m = 0, block_n = 0, block_k = 0;
  int num_stages = 0;
  int num_multicast = 1;         // CTAs per cluster sharing one operand by TMA multicast
  bool multicast_on_a = false;   // true: the pair shares A (adjacent N blocks); false: B
  int swizzle_d_bytes = 0;       // TMA swizzle of the output tile
  int num_sms = 0;               // persistent grid size
  int smem_bytes = 0;            // dynamic shared memory per CTA, alignment slack included
  // Wrong on purpose, for the tuner's tests only: the kernel is compiled for K minus one BLOCK_K
  // (SHAPE_K) while the call passes the real K, so it drops the last K block. No search space,
  // heuristic or tuning record ever gives it; the tuner's reference check must reject it.
  bool test_drop_last_k_block = false;
  int threads() const;           // per CTA, what the kernel's launch bounds allow
  bool operator==(const GemmConfig&) const = default;
};

// The upper end of M's bucket (see above); m >= 1.
int gemm_m_bucket(int m);
// Every bucket upper end up to 16384, ascending.
std::vector<int> gemm_m_bucket_bounds();

// The kernel definition of a GEMM kind (parameters, allowed values, rules).
const jit::KernelDefinition& gemm_definition(GemmKind kind);

// BLOCK_N values the heuristic considers for a kind (FP8 stops at 160: the two-level
// accumulation keeps two BLOCK_N/2 register tiles per thread).
std::vector<int> gemm_block_n_candidates(GemmKind kind);

// Dynamic shared memory of a configuration, 1024 B alignment slack included (the kernels'
// layout, templates/gemm/gemm_layout.cuh).
int gemm_smem_bytes(GemmKind kind, int block_m, int block_n, int num_stages, bool out_fp32);

// The heuristic's pick for the problem (M as given, no bucketing): fewest waves of tiles over
// the SMs, then the fullest last wave, then the larger tile; as many stages as fit. For FP8
// with M > 128 only BLOCK_N dividing 128 is considered; 2-CTA multicast is left to tuning
// records (measured slower, see docs/gemm.md).
GemmConfig heuristic_gemm_config(const GemmProblem& problem, const DeviceInfo& device);

// Tuned configs a call consults before the heuristic: the tuning records of the Runtime the
// call is given (Runtime::gemm_tuning(), tuning::TunedGemmConfigs).
class GemmConfigLookup {
 public:
  virtual ~GemmConfigLookup() = default;
  // The config tuned for the problem (M at its bucket's upper end) on the device; nullopt: none.
  virtual std::optional<GemmConfig> find(const GemmProblem& problem, const DeviceInfo& device) const = 0;
};

// What a call uses: the config forced on this thread (ForcedGemmConfig), else `tuned`'s config
// (nullptr: no tuning records), else the heuristic, for the problem with M at its bucket's
// upper end. Throws Error(invalid_argument) when a forced or tuned config is invalid for the
// problem.
GemmConfig choose_gemm_config(const GemmProblem& problem, const DeviceInfo& device,
                              const GemmConfigLookup* tuned = nullptr);

// For the tuner's measurements: while alive, GEMM calls on this thread use `config` (checked by
// gemm_config_valid against each call's problem). With a `rule` (tests that force a variant
// over several shapes), each call uses the config the rule gives its problem, if any; the rule
// must outlive this object.
class ForcedGemmConfig {
 public:
  explicit ForcedGemmConfig(const GemmConfig& config);
  explicit ForcedGemmConfig(const GemmConfigLookup& rule);
  ~ForcedGemmConfig();
  ForcedGemmConfig(const ForcedGemmConfig&) = delete;
  ForcedGemmConfig& operator=(const ForcedGemmConfig&) = delete;

  std::optional<GemmConfig> config_for(const GemmProblem& problem, const DeviceInfo& device) const;

 private:
  const ForcedGemmConfig* previous_;
  GemmConfig config_;
  const GemmConfigLookup* rule_ = nullptr;
};

// Whether a config can run the problem on the device; *why names the broken rule.
bool gemm_config_valid(const GemmProblem& problem, const GemmConfig& config,
                       const DeviceInfo& device, std::string* why = nullptr);

// The kernel spec of a config (M stays a run-time argument unless fixed_m > 0).
jit::KernelSpec gemm_kernel_spec(const GemmProblem& problem, const GemmConfig& config,
                                 const DeviceInfo& device, int fixed_m = 0);

}  // namespace shapejit::runtime
