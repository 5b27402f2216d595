#pragma once
// Files of the expert planner: loads in, placements in and out.
//
// Loads file: either JSON — `[[...], ...]` or `{"loads": [[...], ...]}`, one row per MoE layer,
// one number per logical expert — or text: one layer per line, numbers separated by spaces,
// tabs or commas, `#` starts a comment, blank lines are skipped.
//
// Placement JSON (what `shapejit plan eplb --json` writes; `--current` reads it back):
//   {"policy": "hierarchical", "layers": L, "experts": E, "slots": S, "groups": G, "nodes": N,
//    "gpus": P, "phy2log": [[S ints] × L], "phyrank": [[S ints] × L] (optional), "log2phy": [[[R ints, −1 padded] × E] × L],
//    "logcnt": [[E ints] × L], "gpu_of_slot": [S ints], ...}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "shapejit/planner/eplb.hpp"

namespace shapejit::planner {

ExpertLoads parse_loads(const std::string& text, const std::string& origin = "loads");
ExpertLoads read_loads(const std::string& path);

nlohmann::json placement_to_json(const Placement& placement);
// Reads phy2log (and phyrank when present) and the topology; rebuilds logcnt and log2phy;
// checks the invariants.
Placement placement_from_json(const nlohmann::json& j);
Placement read_placement(const std::string& path);

}  // namespace shapejit::planner
