#pragma once
// MLA decode's side of tuning: its search space (mla_space.cpp).
#include <string>

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

bool is_mla_op(const std::string& op);
SearchSpace mla_search_space(const std::string& shape_json, const DeviceInfo& target, const SpaceOptions& options);

}  // namespace shapejit::runtime::tuning::detail
