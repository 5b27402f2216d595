// The tunable ops of this build and their search spaces.
#include <nlohmann/json.hpp>

#include "gemm_tuning.hpp"
#include "mla_tuning.hpp"
#include "moe_tuning.hpp"
#include "space_sms.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning {

std::vector<TunableOp> tunable_ops() {
  constexpr const char* kGemm =
      "BLOCK_M, BLOCK_N, stages, multicast and its operand, output swizzle, SMs used";
  constexpr const char* kMoe = "launch shape: columns a thread and rows (tokens) a block";
  return {{"gemm_fp8", kGemm},
          {"gemm_bf16", kGemm},
          {"gemm_fp8_grouped_contiguous", kGemm},
          {"gemm_fp8_grouped_masked", kGemm},
          {"mla_decode", "split kernel load path (cp.async or TMA) and SMs used (the scheduler's partitions)"},
          {"moe_dispatch", kMoe},
          {"moe_swiglu", kMoe},
          {"moe_combine", kMoe}};
}

bool is_tunable(std::string_view op) {
  for (const TunableOp& t : tunable_ops())
    if (t.op == op) return true;
  return false;
}

namespace {

[[noreturn]] void not_tunable(const std::string& op) {
  std::string names;
  for (const TunableOp& t : tunable_ops()) names += (names.empty() ? "" : ", ") + std::string(t.op);
  fail(Errc::invalid_argument, "tune: op '" + op + "' has no search space in this build (tunable: " + names + ")");
}

}  // namespace

namespace detail {

std::vector<int> space_sm_counts(const SpaceOptions& options, const DeviceInfo& target) {
  std::vector<int> sms = options.sm_counts;
  if (sms.empty()) sms.push_back(target.num_sms);
  for (int n : sms)
    if (n < 1 || n > target.num_sms)
      fail(Errc::invalid_argument, "tune: SM count " + std::to_string(n) + " is outside [1, " +
                                       std::to_string(target.num_sms) + "] (the target's SMs)");
  return sms;
}

}  // namespace detail

SearchSpace search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                         const SpaceOptions& options) {
  if (detail::is_gemm_op(op)) return detail::gemm_search_space(op, shape_json, target, options);
  if (detail::is_mla_op(op)) return detail::mla_search_space(shape_json, target, options);
  if (detail::is_moe_op(op)) return detail::moe_search_space(op, shape_json, target, options);
  not_tunable(op);
}

std::vector<std::string> deepseek_v3_shapes(const std::string& op) {
  if (!is_tunable(op)) not_tunable(op);
  std::vector<std::string> out;
  for (const nlohmann::json& s : find_op_family(op).deepseek_v3_shapes()) out.push_back(s.dump());
  return out;
}

}  // namespace shapejit::runtime::tuning
