#pragma once
// MLA decode's side of tuning: its search space (mla_space.cpp).
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/jit/kernel_definition.hpp"

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

bool is_mla_op(const std::string& op);
// The definition an MLA record's version is taken from: the split kernel of the record's load
// path (what the load path and the SM count change).
const jit::KernelDefinition& mla_record_definition(const nlohmann::json& config);
SearchSpace mla_search_space(const std::string& shape_json, const DeviceInfo& target, const SpaceOptions& options);

}  // namespace shapejit::runtime::tuning::detail
