// GEMM operators: manifest shape → the exact specs a call of that shape loads (same functions
// as the runtime front ends in gemm.cpp), and the DeepSeek-V3 GEMM shapes.
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/deepseek_v3_gemm_shapes.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/op_shape.hpp"
#include "shapejit/runtime/tuned_configs.hpp"

namespace shapejit::runtime {
namespace {

constexpr long long kMaxInt = 2147483647;
constexpr long long kMaxGroups = 65536;

std::vector<jit::KernelSpec> fp8_specs(const nlohmann::json& s, const DeviceInfo& target,
                                       const TunedConfigs* tuned) {
  constexpr const char* op = "gemm_fp8";
  const OpShape f(s, op, {"m", "n", "k"});
  GemmFp8Args a;
  a.m = f.integer("m", 1, kMaxInt);
  a.n = f.integer("n", 1, kMaxInt);
  a.k = f.integer("k", 1, kMaxInt);
  validate_shape(a);
  return {gemm_spec(a, target, gemm_lookup(tuned))};
}

std::vector<jit::KernelSpec> bf16_specs(const nlohmann::json& s, const DeviceInfo& target,
                                        const TunedConfigs* tuned) {
  constexpr const char* op = "gemm_bf16";
  const OpShape f(s, op, {"m", "n", "k", "out"});
  GemmBf16Args a;
  a.m = f.integer("m", 1, kMaxInt);
  a.n = f.integer("n", 1, kMaxInt);
  a.k = f.integer("k", 1, kMaxInt);
  if (f.choice("out", {"bf16", "f32"}, "bf16") == "f32") a.d_dtype = DType::f32;
  validate_shape(a);
  return {gemm_spec(a, target, gemm_lookup(tuned))};
}

std::vector<jit::KernelSpec> contiguous_specs(const nlohmann::json& s, const DeviceInfo& target,
                                              const TunedConfigs* tuned) {
  constexpr const char* op = "gemm_fp8_grouped_contiguous";
  const OpShape f(s, op, {"m", "n", "k", "groups", "align_m"});
  GemmFp8GroupedContiguousArgs a;
  a.m_sum = f.integer("m", 1, kMaxInt);
  a.n = f.integer("n", 1, kMaxInt);
  a.k = f.integer("k", 1, kMaxInt);
  a.num_groups = f.integer("groups", 1, kMaxGroups);
  a.align_m = f.integer("align_m", 1, kMaxInt, 128);
  validate_shape(a);
  return {gemm_spec(a, target, gemm_lookup(tuned))};
}

std::vector<jit::KernelSpec> masked_specs(const nlohmann::json& s, const DeviceInfo& target,
                                          const TunedConfigs* tuned) {
  constexpr const char* op = "gemm_fp8_grouped_masked";
  const OpShape f(s, op, {"m", "n", "k", "groups", "expected_m"});
  GemmFp8GroupedMaskedArgs a;
  a.m_max = f.integer("m", 1, kMaxInt);
  a.n = f.integer("n", 1, kMaxInt);
  a.k = f.integer("k", 1, kMaxInt);
  a.num_groups = f.integer("groups", 1, kMaxGroups);
  a.expected_m = f.integer("expected_m", 0, kMaxInt, 0);
  validate_shape(a);
  return {gemm_spec(a, target, gemm_lookup(tuned))};
}

std::vector<nlohmann::json> fp8_deepseek_v3_shapes() {
  std::vector<nlohmann::json> v;
  for (const GemmShapeNK& nk : kDeepSeekV3GemmShapes)
    for (int m : gemm_m_bucket_bounds())
      v.push_back({{"op", "gemm_fp8"}, {"m", m}, {"n", nk.n}, {"k", nk.k}});
  return v;
}

std::vector<nlohmann::json> none() { return {}; }

}  // namespace

std::vector<OpFamily> gemm_op_families() {
  return {
      {"gemm_fp8",
       "FP8 E4M3 NT GEMM, 1x128 A / 128x128 B scales, BF16 out (fields: m, n, k)", fp8_specs,
       fp8_deepseek_v3_shapes},
      {"gemm_bf16", "BF16 NT GEMM, FP32 accumulation (fields: m, n, k, out=bf16|f32)",
       bf16_specs, none},
      {"gemm_fp8_grouped_contiguous",
       "grouped FP8 GEMM, groups stacked along M (fields: m = M_sum, n, k, groups, align_m=128)",
       contiguous_specs, none},
      {"gemm_fp8_grouped_masked",
       "grouped FP8 GEMM, [groups, m, k] with per-group row counts (fields: m = M_max, n, k, "
       "groups, expected_m)",
       masked_specs, none},
  };
}

}  // namespace shapejit::runtime
