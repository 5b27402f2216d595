#pragma once
// Measured dispatch/combine costs from `shapejit bench ep --json --sweep` output, for `bench ep
// --write-profile` and `bench profile --comm FILE`: the points of one run, and their fit to the
// cost profile's COMM model. Host code only (tested without a GPU).
#include <string>
#include <vector>

#include "shapejit/planner/cost_profile_writer.hpp"

namespace shapejit::cli {

struct EpCommPoint {
  int tokens = 0;
  double received_rows = 0;   // rows this rank received (the exchange's payload rows)
  double dispatch_us = 0, combine_us = 0;
};

struct EpCommRun {
  std::string origin;          // file name, or "this run"
  std::string phase;           // the phase the run measures ("" : from mode)
  std::string mode = "normal"; // normal | low-latency
  std::string device;
  int rank = 0, ranks = 1, comm_sms = 0, hidden = 0;
  std::vector<EpCommPoint> points;
};

// Bytes of one received row on the wire: dispatch FP8 payload + 1x128 FP32 scales; combine BF16.
double ep_dispatch_row_bytes(int hidden);
double ep_combine_row_bytes(int hidden);

// Reads FILE: the JSON object `bench ep --json` prints, or several (one per rank, in any order,
// one after another); rank 0's run is taken. Throws Error(invalid_argument) naming the file and
// the field when it is not such output.
EpCommRun read_ep_comm_run(const std::string& path);

// The phase a run measures: its own "phase", else prefill for normal mode and decode for
// low-latency mode.
std::string ep_comm_phase(const EpCommRun& run);

// dispatch and combine of the run's phase fitted (planner::fit_comm_cost: ≥ 2 token counts) with
// the bytes per token the run moved, and a `how` naming the run and its origin.
std::vector<planner::MeasuredComm> fit_ep_comm(const EpCommRun& run);

}  // namespace shapejit::cli
