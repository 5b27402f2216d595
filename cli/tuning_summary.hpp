#pragma once
// What `cache stats`, `cache ls` and `info` say about tuning records: how many winners hold for
// this device (or, without one, the default target) and why the others are ignored, and which
// cached kernels are tuned winners.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/cache/kernel_store.hpp"

namespace shapejit::cli {

// {"target", "sessions", "records_by_status", "winners_usable", "winners_ignored": {reason: n}}
nlohmann::json tuning_summary(cache::KernelStore& store);
// One line for people, e.g. "3 winners hold for this device; ignored: 2 other driver".
std::string tuning_summary_line(const nlohmann::json& summary);
// Canonical specs of the winners that hold for the target (the kernels calls will load).
std::set<std::string> tuned_specs(cache::KernelStore& store);

}  // namespace shapejit::cli
