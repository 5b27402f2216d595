#pragma once
// MoE's side of tuning: the launch-shape search spaces of dispatch, SwiGLU and combine and the
// definitions behind their records (moe_space.cpp).
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

bool is_moe_op(const std::string& op);
SearchSpace moe_search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                             const SpaceOptions& options);
// The definition a record's config names (the proven kernel or the tiled one), per op.
const jit::KernelDefinition& moe_dispatch_record_definition(const nlohmann::json& config);
const jit::KernelDefinition& moe_swiglu_record_definition(const nlohmann::json& config);
const jit::KernelDefinition& moe_combine_record_definition(const nlohmann::json& config);

}  // namespace shapejit::runtime::tuning::detail
