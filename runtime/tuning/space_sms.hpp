#pragma once
// The SM counts a search space covers, shared by every op's space.
#include <vector>

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

// options.sm_counts, or the target's SMs when empty; throws Error(invalid_argument) for a count
// outside [1, target.num_sms].
std::vector<int> space_sm_counts(const SpaceOptions& options, const DeviceInfo& target);

}  // namespace shapejit::runtime::tuning::detail
