#pragma once
// MoE's side of tuning: the launch-shape search spaces of dispatch, SwiGLU and combine
// (moe_space.cpp).
#include <string>

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

bool is_moe_op(const std::string& op);
SearchSpace moe_search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                             const SpaceOptions& options);

}  // namespace shapejit::runtime::tuning::detail
