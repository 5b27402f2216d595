#pragma once
// What `cache stats`, `cache ls` and `info` say about tuning records: how many winners hold for
// this device (or, without one, the default target) and why the others are ignored, and which
// cached kernels are tuned winners.
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/cache/kernel_store.hpp"

namespace shapejit::cli {

// {"target", "sessions", "records_by_status", "winners_usable", "winners_usable_by_op": {op: n},
//  "winners_ignored": {reason: n}, "winners_ignored_by_op": {op: {reason: n}}}
nlohmann::json tuning_summary(cache::KernelStore& store);
// One line for people, e.g. "3 winners hold for <target> (gemm_fp8 2, mla_decode 1); ignored: 2 other driver".
std::string tuning_summary_line(const nlohmann::json& summary);
// Canonical specs of the kernels that the winners holding for the target make calls load in
// place of the heuristic's: each winner's own spec and every kernel of its op's call that the
// winner changes (MLA: the scheduler and combine kernels follow the tuned SM count).
std::set<std::string> tuned_specs(cache::KernelStore& store);

}  // namespace shapejit::cli
