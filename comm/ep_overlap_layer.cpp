// Executing the overlap plan's event graph (see ep_overlap_layer.hpp).
#include "shapejit/comm/ep_overlap_layer.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/stream.hpp"

namespace shapejit::comm {

using planner::OverlapOpKind;

struct EpOverlapLayer::Impl {
  planner::OverlapSchedule plan;
  EpExchangeConfig config;
  runtime::MoeWeights weights;
  runtime::Runtime& rt;
  std::vector<std::unique_ptr<EpExchange>> exchanges;
  runtime::Stream compute;
  std::vector<runtime::Stream> issue;              // per micro-batch: the exchange's caller stream
  std::vector<runtime::Event> done;                // per op
  std::vector<runtime::Event> t_start, t_end;      // per op, with timing
  runtime::Event entry{false}, t_origin{true};
  bool timing = false, timed_run = false;

  Impl(const planner::OverlapSchedule& p, const EpExchangeConfig& c, const runtime::MoeWeights& w,
       runtime::Runtime& r)
      : plan(p), config(c), weights(w), rt(r) {}

  CUstream stream_of(const planner::OverlapOp& op) {
    return op.stream == planner::OverlapStream::compute ? compute.get() : issue[op.micro_batch].get();
  }
};

EpOverlapLayer::EpOverlapLayer(EpGroup& group, const EpPlacement& placement, const EpExchangeConfig& config,
                               const planner::OverlapSchedule& plan, const runtime::MoeWeights& weights,
                               runtime::Runtime& compute_runtime)
    : impl_(std::make_unique<Impl>(plan, config, weights, compute_runtime)) {
  planner::check_overlap_schedule(plan);
  if (plan.layers != 1)
    fail(Errc::invalid_argument, "EpOverlapLayer: the plan has " + std::to_string(plan.layers) +
                                     " layers; pass one layer's graph (build_overlap_schedule(..., 1))");
  Impl& m = *impl_;
  const int device_sms = runtime::current_device().num_sms;
  compute_runtime.set_num_sms(plan.compute_sms >= device_sms ? 0 : plan.compute_sms);
  for (int x = 0; x < plan.micro_batches; ++x) {
    EpExchangeConfig c = config;
    c.max_tokens = std::max(1, plan.tokens[x]);
    m.exchanges.push_back(std::make_unique<EpExchange>(group, placement, c, compute_runtime));
    m.issue.emplace_back();
  }
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    m.done.emplace_back(false);
    m.t_start.emplace_back(true);
    m.t_end.emplace_back(true);
  }
}

EpOverlapLayer::~EpOverlapLayer() = default;

void EpOverlapLayer::set_timing(bool on) { impl_->timing = on; }

void EpOverlapLayer::run(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
                         CUdeviceptr out, CUstream stream,
                         const std::function<void(int, CUstream, int, int)>& attention) {
  Impl& m = *impl_;
  const int M = m.plan.micro_batches;
  const int total = m.plan.tokens[0] + (M == 2 ? m.plan.tokens[1] : 0);
  if (num_tokens != total)
    fail(Errc::invalid_argument, "EpOverlapLayer: num_tokens = " + std::to_string(num_tokens) + ", the plan splits " +
                                     std::to_string(total));
  const bool ll = m.config.mode == EpMode::low_latency;
  const std::size_t H = m.config.hidden, K = m.config.top_k;
  int first[2] = {0, m.plan.tokens[0]};
  // Everything starts after the caller's prior work.
  m.entry.record(stream);
  m.entry.wait_in(m.compute.get());
  for (auto& s : m.issue) m.entry.wait_in(s.get());
  if (m.timing) m.t_origin.record(m.compute.get());
  for (std::size_t i = 0; i < m.plan.ops.size(); ++i) {
    const planner::OverlapOp& op = m.plan.ops[i];
    CUstream s = m.stream_of(op);
    for (int d : op.deps) m.done[d].wait_in(s);
    if (op.stream_prev >= 0) m.done[op.stream_prev].wait_in(s);
    if (m.timing) m.t_start[i].record(s);
    const int mb = op.micro_batch, T = m.plan.tokens[mb];
    EpExchange& ex = *m.exchanges[mb];
    const CUdeviceptr xb = x + first[mb] * H * 2, ib = topk_idx + first[mb] * K * 4,
                      wb = topk_weights + first[mb] * K * 4, ob = out + first[mb] * H * 2;
    switch (op.kind) {
      case OverlapOpKind::attention:
        if (attention) attention(mb, s, first[mb], T);
        break;
      case OverlapOpKind::dispatch:
        if (ll) ex.dispatch_low_latency(T, xb, ib, wb, s);
        else ex.dispatch(T, xb, ib, wb, s);
        break;
      case OverlapOpKind::experts: {
        const auto& cfg = ex.expert_config();
        auto& ws = ex.workspace();
        const int n = ex.received_rows();
        runtime::moe_gate_up(cfg, n, ws.xq(n), m.weights, ws.routing(), ws.h(), s, m.rt);
        runtime::moe_swiglu(cfg, n, ws.h(), ws.routing(), ws.aq(n), s, m.rt);
        runtime::moe_down(cfg, n, ws.aq(n), m.weights, ws.routing(), ws.y(), s, m.rt);
        break;
      }
      case OverlapOpKind::combine:
        if (ll) ex.combine_low_latency(ex.workspace().y(), ob, s);
        else ex.combine(ex.workspace().y(), ob, s);
        break;
    }
    if (m.timing) m.t_end[i].record(s);
    m.done[i].record(s);
  }
  // The caller's stream continues after the last op of every stream.
  for (std::size_t i = 0; i < m.plan.ops.size(); ++i) m.done[i].wait_in(stream);
  m.timed_run = m.timing;
}

planner::OverlapSchedule EpOverlapLayer::measured() {
  Impl& m = *impl_;
  if (!m.timed_run) fail(Errc::invalid_argument, "EpOverlapLayer::measured(): no timed run (call set_timing(true))");
  std::vector<double> start(m.plan.ops.size()), end(m.plan.ops.size());
  for (std::size_t i = 0; i < m.plan.ops.size(); ++i) {
    m.t_end[i].synchronize();
    start[i] = 1e3 * m.t_origin.elapsed_ms_until(m.t_start[i]);
    end[i] = 1e3 * m.t_origin.elapsed_ms_until(m.t_end[i]);
  }
  return planner::measured_overlap_schedule(m.plan, start, end);
}

}  // namespace shapejit::comm
