#pragma once
// Builders shared by the schedule generators. Internal to the planner.
#include "shapejit/planner/pipeline.hpp"

namespace shapejit::planner::detail {

inline PipelineOp single(PassKind kind, int stage, int micro_batch) {
  PipelineOp op;
  op.pass[0] = {kind, stage, micro_batch};
  return op;
}

inline PipelineOp overlapped(Pass forward, Pass backward) {
  PipelineOp op;
  op.pass[0] = forward;
  op.pass[1] = backward;
  op.passes = 2;
  return op;
}

// Rank r's op list under DualPipe or DualPipeV (see pipeline_dualpipe.cpp).
std::vector<PipelineOp> dual_rank_ops(const Schedule& s, int rank);

}  // namespace shapejit::planner::detail
