#pragma once
// A session's results per shape: every measured candidate, the baseline and the winner with
// its speed-up over the heuristic and, where a reference library (cuBLASLt) was timed on the
// shape, over it; as JSON for scripts and as an SVG chart for people.
#include <string>
#include <vector>

#include "shapejit/cache/kernel_record.hpp"

namespace shapejit::runtime::tuning {

// {"session": id, "shapes": [{"op", "shape", "baseline_us", "winner": {..., "speedup"},
//   "reference": {"name", "median_us", ...} | null, "speedup_over_reference": x | null,
//   "candidates": [...]}]}; speedup_over_reference = the reference's time over the winner's
// (the baseline's when the shape was not decided).
std::string report_json(const std::string& session, const std::vector<cache::TuningRecord>& records);
// One row per shape: a bar per measured candidate (time relative to the baseline), the
// baseline and winner marked, the speed-up written beside. Self-contained SVG text.
std::string report_svg(const std::string& session, const std::vector<cache::TuningRecord>& records);

}  // namespace shapejit::runtime::tuning
