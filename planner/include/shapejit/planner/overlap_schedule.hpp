#pragma once
// The overlap plan as an event graph: the ops of every MoE layer of a step, the stream each runs
// on, the ops each waits for, and their simulated times. The runtime (comm/ep_overlap_layer)
// issues exactly these ops in this order, waiting on events for the cross-stream dependencies;
// the SVG draws it, two rows per micro-batch (compute, communication) with dependency arrows.
//
// Op order per layer, as evaluate_overlap models it: compute stream A0 A1 E0 E1, communication
// stream D0 D1 K0 K1 (one micro-batch: A0 D0 E0 K0, nothing overlaps). Data dependencies:
// D_x after A_x, E_x after D_x, K_x after E_x, and A_x of the next layer after K_x.
#include <string>
#include <vector>

#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/overlap.hpp"

namespace shapejit::planner {

enum class OverlapOpKind { attention, dispatch, experts, combine };
enum class OverlapStream { compute, communication };

const char* to_string(OverlapOpKind kind);   // "attention", ...
char letter(OverlapOpKind kind);             // 'A', 'D', 'E', 'K'

struct OverlapOp {
  OverlapOpKind kind = OverlapOpKind::attention;
  int layer = 0;
  int micro_batch = 0;
  OverlapStream stream = OverlapStream::compute;
  std::vector<int> deps;        // indices of earlier ops: the data dependencies
  int stream_prev = -1;         // the previous op on the same stream (-1: first)
  double start_us = 0, end_us = 0;
  int sms = 0;                  // SMs the op runs on
  std::string label() const;    // e.g. "D1" (layer 0) or "D1.3" (layer 3)
};

struct OverlapSchedule {
  std::string phase;
  int micro_batches = 1;
  int layers = 1;
  int tokens[2] = {0, 0};
  int sms = 0, comm_sms = 0, compute_sms = 0;
  std::vector<OverlapOp> ops;   // in issue order (the order the runtime enqueues them)
  double makespan_us = 0;
};

// The plan's graph for `layers` MoE layers (default: the phase's moe_layers, at most 64 drawn).
OverlapSchedule build_overlap_schedule(const PhaseProfile& phase, int sms, const OverlapCandidate& plan,
                                       int layers = 0);

// The plan `shapejit plan overlap --json` chose for `phase` (its "choice": split,
// micro_batch_tokens, comm_sms), as the candidate build_overlap_schedule takes. Throws
// Error(invalid_argument) naming what is missing.
OverlapCandidate parse_overlap_choice(const std::string& json_text, const std::string& phase);

// Throws Error(invalid_argument) naming the op when the graph is not one the runtime can issue:
// a dependency on a later op, a missing data dependency, stream order broken, an op starting
// before what it waits for has ended, or two ops of one stream overlapping in time.
void check_overlap_schedule(const OverlapSchedule& schedule);

// A measured run of `plan`: its graph with every op's measured start and end (µs from the run's
// origin, one entry per op in issue order); phase gets " (measured)" and makespan the last end.
// Throws Error(invalid_argument) on a size mismatch or a time that is negative, not finite, or
// ends before it starts.
OverlapSchedule measured_overlap_schedule(const OverlapSchedule& plan, const std::vector<double>& start_us,
                                          const std::vector<double>& end_us);

// Two rows per micro-batch (compute on its SMs, communication on its SMs), boxes at their
// simulated (or measured) times, arrows for cross-stream dependencies; a legend with the plan.
std::string overlap_schedule_svg(const OverlapSchedule& schedule);

}  // namespace shapejit::planner
