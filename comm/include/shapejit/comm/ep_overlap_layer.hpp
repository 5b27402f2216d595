#pragma once
// A multi-rank MoE layer that carries out the planner's overlap plan: the tokens are split into
// the plan's micro-batches, and the ops of the plan's event graph (planner/overlap_schedule.hpp:
// A attention, D dispatch, E experts, K combine) are issued in its order — compute ops on the
// compute stream with the plan's compute SMs (a Runtime limited by set_num_sms), dispatch and
// combine through one EpExchange per micro-batch — each waiting by events for exactly the ops
// the graph names, so one micro-batch's communication overlaps the other's compute. The
// communication ops also wait for their predecessor on the communication stream, so every rank
// issues them to NCCL in the same order. With timing on, the measured start and end of every op
// come back as a schedule that overlap_schedule_svg draws like the plan.
#include <cuda.h>

#include <functional>
#include <memory>

#include "shapejit/comm/ep_exchange.hpp"
#include "shapejit/planner/overlap_schedule.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::comm {

class EpOverlapLayer {
 public:
  // `plan` is one layer's graph (build_overlap_schedule(..., layers = 1)); its token split is
  // taken as given (the caller passes num_tokens = tokens[0] + tokens[1] to run). The exchanges
  // are sized for each micro-batch. compute_runtime gets set_num_sms(plan.compute_sms) (0 when
  // the plan gives compute every SM).
  EpOverlapLayer(EpGroup& group, const EpPlacement& placement, const EpExchangeConfig& config,
                 const planner::OverlapSchedule& plan, const runtime::MoeWeights& weights,
                 runtime::Runtime& compute_runtime);
  ~EpOverlapLayer();

  // x [T, H] BF16, topk_idx [T, k], topk_weights [T, k] → out [T, H] BF16, micro-batch x taking
  // rows [offset_x, offset_x + tokens_x). `attention(mb, stream, first_token, tokens)` runs the
  // A ops when given. Normal mode blocks the host at each dispatch's count exchange.
  void run(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx, CUdeviceptr topk_weights, CUdeviceptr out,
           CUstream stream,
           const std::function<void(int, CUstream, int, int)>& attention = {});

  // Timing events on every op from the next run; measured() then returns the plan's graph with
  // the measured times (µs from the first op's start). Synchronizes.
  void set_timing(bool on);
  planner::OverlapSchedule measured();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shapejit::comm
