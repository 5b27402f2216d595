#pragma once
// Discrete-event simulation of a pipeline schedule: every rank runs its ops in order; an op starts
// when its rank is free and all of its inputs have arrived (a cross-rank input arrives P2P latency
// after the producing op ends). Ops of different ranks overlap freely; communication takes no
// compute time on either side.
#include <string>
#include <vector>

#include "shapejit/planner/pipeline.hpp"

namespace shapejit::planner {

// Per-chunk costs (one stage of one micro-batch), in any time unit.
struct PassCosts {
  double forward = 1;           // F
  double backward = 2;          // B: full backward (input + weight gradients)
  double weight = 1;            // W: the weight-gradient part of B (an I costs B − W)
  double forward_backward = 0;  // F&B: an overlapped forward + full backward; ≤ 0 means F + B
  double p2p = 0;               // latency of one stage-to-stage transfer
  double overlapped() const { return forward_backward > 0 ? forward_backward : forward + backward; }
};

// Reads {"F": .., "B": .., "W": .., "FB": .., "p2p": ..} (all optional, defaults above); rejects
// negative costs and W > B.
PassCosts parse_pass_costs(const std::string& json_text, const std::string& origin = "costs");
void check_pass_costs(const PassCosts& costs);

struct OpTiming {
  double start = 0;
  double end = 0;
};

struct RankResult {
  double busy = 0;             // sum of op costs
  double bubble = 0;           // makespan − busy: time the rank is idle
  int peak_activations = 0;    // most micro-batch chunks whose F has started and B (or I) not ended
  int parameter_copies = 0;    // distinct stages the rank holds
};

struct SimulationResult {
  double makespan = 0;
  std::vector<RankResult> ranks;
  std::vector<std::vector<OpTiming>> timing;  // [rank][op]
  double max_bubble() const;
  int max_peak_activations() const;
  int max_parameter_copies() const;
};

// Throws Error(invalid_argument) if the schedule deadlocks, naming the stuck ops.
SimulationResult simulate(const Schedule& schedule, const PassCosts& costs);

// DualPipe's published table for P pipeline stages (P = schedule.stages) and these costs.
struct PublishedFigures {
  double bubble = 0;    // 1F1B (P−1)(F+B); ZB1P (P−1)(F+B−2W); DualPipe(V) (P/2−1)(F&B+B−3W)
  int parameters = 1;   // copies of one stage's parameters per device: 1, 1, 2, 2
  int activations = 0;  // peak micro-batch chunks per device: P, P, P+1, P+1
  int devices = 0;      // P, P, P, P/2
  std::string bubble_formula;
};
PublishedFigures published_figures(ScheduleKind kind, int stages, const PassCosts& costs);

}  // namespace shapejit::planner
