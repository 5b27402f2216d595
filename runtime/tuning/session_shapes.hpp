#pragma once
// The (op, shape JSON) pairs a session request names.
#include <string>
#include <utility>
#include <vector>

#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning::detail {

// A manifest's "target" fields are applied to *target.
std::vector<std::pair<std::string, std::string>> requested_shapes(const SessionRequest& request, DeviceInfo* target);

}  // namespace shapejit::runtime::tuning::detail
