#pragma once
// Pictures of a simulated schedule: one row per rank, one box per op, placed at its simulated
// start and end.
#include <string>

#include "shapejit/planner/pipeline.hpp"
#include "shapejit/planner/pipeline_simulator.hpp"

namespace shapejit::planner {

// SVG: colour per pass kind (F blue, B green, I light green, W purple); an overlapped F&B op is
// drawn as a split box (forward over backward) with a dark outline; each box shows its
// micro-batch(es) and a tooltip with stage, micro-batch, start and end.
std::string timeline_svg(const Schedule& schedule, const SimulationResult& result);

// Text: per rank, a Gantt line of `width` columns (F, B, b = input-gradient B, W, X = overlapped
// F&B, . = idle) and the op order (e.g. "F0 F1 F2&B0 I1 W1").
std::string timeline_text(const Schedule& schedule, const SimulationResult& result, int width = 96);

// One op as text: "F3", "I3", "W3", or "F5&B2" for an overlapped pair (micro-batch numbers).
std::string op_label(const PipelineOp& op);

}  // namespace shapejit::planner
