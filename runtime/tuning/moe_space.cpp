// MoE launch-shape search spaces (moe_dispatch, moe_swiglu, moe_combine): the proven kernel's
// launch (one row a block, 16 columns a thread) as the baseline, then every COLS_PER_THREAD x
// ROWS_PER_BLOCK of the tiled kernel's definition, those its rules refuse for the width counted
// by rule and never compiled. The kernels are memory bound and launch one block per row group
// (no persistent grid), so the SM count does not change a candidate: options.sm_counts does
// not multiply the space, and the records hold for the target's SMs like every other record.
#include <nlohmann/json.hpp>

#include "moe_tuning.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/moe_launch.hpp"

namespace shapejit::runtime::tuning::detail {
namespace {

MoeStepShape step_shape(const std::string& op, const std::string& shape_json) {
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(shape_json);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, op + ": shape is not JSON: " + e.what());
  }
  if (s.is_object() && !s.contains("op")) s["op"] = op;
  const MoeStepShape shape = moe_step_shape(s.dump());
  if (moe_step_op(shape.step) != op) fail(Errc::invalid_argument, op + ": the shape is for " + moe_step_op(shape.step));
  return shape;
}

// The rule a refused shape breaks: the rule's own text, else the whole message.
std::string rule_key(const std::string& why) {
  const auto at = why.find("the rule '");
  if (at == std::string::npos) return why;
  const auto end = why.find('\'', at + 10);
  return why.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
}

// Minimum bytes one call moves, every routed entry local (all TOP_K rows written / read):
// dispatch reads T BF16 rows and the slots, writes T x k FP8 rows and their scales; SwiGLU reads
// R gate/up BF16 rows and the row map, writes R FP8 rows and scales; combine reads T x k BF16
// rows, the slots and weights, writes T BF16 rows.
double bytes_moved(const MoeStepShape& s) {
  const double rows = s.rows, k = s.config.top_k, h = s.config.hidden, i = s.config.intermediate;
  switch (s.step) {
    case MoeStep::dispatch:
      return rows * h * 2 + rows * k * 4 + rows * k * (h + h / 128 * 4);
    case MoeStep::swiglu:
      return rows * 2 * i * 2 + rows * 4 + rows * (i + i / 128 * 4);
    case MoeStep::combine:
      return rows * k * h * 2 + rows * k * 8 + rows * h * 2;
  }
  return 0;
}

}  // namespace

namespace {

const jit::KernelDefinition& record_definition(MoeStep step, const nlohmann::json& config) {
  return jit::find_kernel_definition("moe", moe_step_kernel(step, config.value("kernel", std::string()) == "tiled"));
}

}  // namespace

const jit::KernelDefinition& moe_dispatch_record_definition(const nlohmann::json& config) {
  return record_definition(MoeStep::dispatch, config);
}
const jit::KernelDefinition& moe_swiglu_record_definition(const nlohmann::json& config) {
  return record_definition(MoeStep::swiglu, config);
}
const jit::KernelDefinition& moe_combine_record_definition(const nlohmann::json& config) {
  return record_definition(MoeStep::combine, config);
}

bool is_moe_op(const std::string& op) {
  return op == moe_step_op(MoeStep::dispatch) || op == moe_step_op(MoeStep::swiglu) ||
         op == moe_step_op(MoeStep::combine);
}

SearchSpace moe_search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                             const SpaceOptions& options) {
  MoeStepShape shape = step_shape(op, shape_json);
  shape.rows = moe_rows_bucket(shape.rows);   // a record holds for the rows' bucket
  SearchSpace space;
  space.op = op;
  space.shape_json = moe_step_shape_json(shape);
  const jit::KernelDefinition& tiled =
      jit::find_kernel_definition(moe_step_spec(shape.step, shape.config, {.tiled = true}, target));
  std::vector<MoeLaunch> order{MoeLaunch{}};   // the baseline: what a call launches today
  for (long long cols : tiled.find("COLS_PER_THREAD")->values())
    for (long long rows : tiled.find("ROWS_PER_BLOCK")->values())
      order.push_back({true, static_cast<int>(cols), static_cast<int>(rows)});
  for (const MoeLaunch& l : order) {
    ++space.combinations;
    jit::KernelSpec spec;
    try {
      spec = moe_step_spec(shape.step, shape.config, l, target);   // the definition's rules
    } catch (const Error& e) {
      ++space.rejected;
      ++space.rejected_by_rule[rule_key(e.what())];
      continue;
    }
    if (options.max_candidates > 0 && static_cast<int>(space.candidates.size()) >= options.max_candidates) {
      ++space.capped;
      continue;
    }
    Candidate c;
    c.op = op;
    c.shape_json = space.shape_json;
    c.config_json = nlohmann::json{{"kernel", l.tiled ? "tiled" : "proven"},
                                   {"COLS_PER_THREAD", l.cols_per_thread},
                                   {"ROWS_PER_BLOCK", l.rows_per_block}}
                        .dump();
    c.spec = std::move(spec);
    c.definition_version = definition_version(jit::find_kernel_definition(c.spec));
    c.baseline = space.candidates.empty();
    c.bytes = bytes_moved(shape);
    space.candidates.push_back(std::move(c));
  }
  return space;
}

}  // namespace shapejit::runtime::tuning::detail
