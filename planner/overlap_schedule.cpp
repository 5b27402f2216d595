// The overlap plan's event graph and its checks (see overlap_schedule.hpp).
#include "shapejit/planner/overlap_schedule.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "shapejit/error.hpp"

namespace shapejit::planner {
namespace {
constexpr int kMaxLayers = 64;
}

const char* to_string(OverlapOpKind k) {
  switch (k) {
    case OverlapOpKind::attention: return "attention";
    case OverlapOpKind::dispatch: return "dispatch";
    case OverlapOpKind::experts: return "experts";
    case OverlapOpKind::combine: return "combine";
  }
  return "?";
}

char letter(OverlapOpKind k) { return "ADEK"[static_cast<int>(k)]; }

std::string OverlapOp::label() const {
  std::string s = std::string(1, letter(kind)) + std::to_string(micro_batch);
  return layer ? s + "." + std::to_string(layer) : s;
}

OverlapSchedule build_overlap_schedule(const PhaseProfile& ph, int sms, const OverlapCandidate& plan, int layers) {
  if (sms < 1) fail(Errc::invalid_argument, "overlap schedule: sms = " + std::to_string(sms));
  if (plan.comm_sms < 0 || plan.comm_sms >= sms)
    fail(Errc::invalid_argument, "overlap schedule: comm_sms = " + std::to_string(plan.comm_sms) +
                                     " must be in [0, " + std::to_string(sms) + ")");
  OverlapSchedule s;
  s.phase = ph.name;
  s.micro_batches = plan.split ? 2 : 1;
  s.layers = std::clamp(layers > 0 ? layers : ph.moe_layers, 1, kMaxLayers);
  s.tokens[0] = plan.tokens[0];
  s.tokens[1] = plan.tokens[1];
  s.sms = sms;
  s.comm_sms = plan.comm_sms;
  s.compute_sms = plan.split ? sms - plan.comm_sms : sms;
  const int M = s.micro_batches;
  auto time_of = [&](OverlapOpKind k, int x) {
    const double t = s.tokens[x];
    switch (k) {
      case OverlapOpKind::attention: return ph.attention.time_us(t, s.compute_sms, sms);
      case OverlapOpKind::experts:
        return ph.moe_gemm.time_us(t, s.compute_sms, sms) + ph.shared_expert.time_us(t, s.compute_sms, sms);
      case OverlapOpKind::dispatch: return ph.dispatch.time_us(t, s.comm_sms);
      case OverlapOpKind::combine: return ph.combine.time_us(t, s.comm_sms);
    }
    return 0.0;
  };
  int last[2] = {-1, -1};           // last op per stream
  std::vector<int> prev_k(M, -1);   // K_x of the previous layer
  std::vector<int> this_op(4 * M, -1);
  auto add = [&](OverlapOpKind k, int l, int x, int dep) {
    OverlapOp op;
    op.kind = k;
    op.layer = l;
    op.micro_batch = x;
    const bool comm = k == OverlapOpKind::dispatch || k == OverlapOpKind::combine;
    op.stream = comm ? OverlapStream::communication : OverlapStream::compute;
    op.sms = comm ? s.comm_sms : s.compute_sms;
    if (dep >= 0) op.deps.push_back(dep);
    op.stream_prev = last[comm];
    double start = op.stream_prev >= 0 ? s.ops[op.stream_prev].end_us : 0.0;
    for (int d : op.deps) start = std::max(start, s.ops[d].end_us);
    op.start_us = start;
    op.end_us = start + time_of(k, x);
    last[comm] = static_cast<int>(s.ops.size());
    s.ops.push_back(op);
    this_op[static_cast<int>(k) * M + x] = last[comm];
  };
  for (int l = 0; l < s.layers; ++l) {
    if (M == 1) {
      add(OverlapOpKind::attention, l, 0, prev_k[0]);
      add(OverlapOpKind::dispatch, l, 0, this_op[0]);
      add(OverlapOpKind::experts, l, 0, this_op[1]);
      add(OverlapOpKind::combine, l, 0, this_op[2]);
      prev_k[0] = this_op[3];
      continue;
    }
    // Issue order follows the simulated start times within each stream, the order the chooser
    // models: A0 A1 | D0 D1 | E0 E1 | K0 K1.
    for (int x = 0; x < 2; ++x) add(OverlapOpKind::attention, l, x, prev_k[x]);
    for (int x = 0; x < 2; ++x) add(OverlapOpKind::dispatch, l, x, this_op[0 * M + x]);
    for (int x = 0; x < 2; ++x) add(OverlapOpKind::experts, l, x, this_op[1 * M + x]);
    for (int x = 0; x < 2; ++x) add(OverlapOpKind::combine, l, x, this_op[2 * M + x]);
    for (int x = 0; x < 2; ++x) prev_k[x] = this_op[3 * M + x];
  }
  for (const auto& op : s.ops) s.makespan_us = std::max(s.makespan_us, op.end_us);
  return s;
}

namespace {

[[noreturn]] void bad_plan(const std::string& phase, const std::string& what) {
  fail(Errc::invalid_argument, "overlap plan (plan overlap --json) for phase '" + phase + "': " + what);
}

}  // namespace

OverlapCandidate parse_overlap_choice(const std::string& json_text, const std::string& phase) {
  auto bad = [&phase](const std::string& what) { bad_plan(phase, what); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    bad(std::string("not JSON: ") + e.what());
  }
  if (!j.contains("phases") || !j["phases"].contains(phase) || !j["phases"][phase].contains("choice"))
    bad("no phases." + phase + ".choice");
  const auto& c = j["phases"][phase]["choice"];
  try {
    OverlapCandidate out;
    out.split = c.at("split").get<bool>();
    const auto& t = c.at("micro_batch_tokens");
    if (!t.is_array() || t.size() != (out.split ? 2u : 1u)) bad("micro_batch_tokens does not match split");
    out.tokens[0] = t[0].get<int>();
    out.tokens[1] = out.split ? t[1].get<int>() : 0;
    out.comm_sms = c.at("comm_sms").get<int>();
    out.layer_us = c.value("layer_us", 0.0);
    out.step_us = c.value("step_us", 0.0);
    if (out.tokens[0] < 1 || out.tokens[1] < 0 || out.comm_sms < 0) bad("negative or empty micro-batch");
    return out;
  } catch (const nlohmann::json::exception& e) {
    bad_plan(phase, e.what());
  }
}

void check_overlap_schedule(const OverlapSchedule& s) {
  auto bad = [](const OverlapOp& op, const std::string& what) {
    fail(Errc::invalid_argument, "overlap schedule: " + op.label() + " " + what);
  };
  const int n = static_cast<int>(s.ops.size());
  int last[2] = {-1, -1};
  for (int i = 0; i < n; ++i) {
    const OverlapOp& op = s.ops[i];
    const int st = static_cast<int>(op.stream);
    if (op.stream_prev != last[st]) bad(op, "does not follow the previous op of its stream");
    last[st] = i;
    const bool comm = op.kind == OverlapOpKind::dispatch || op.kind == OverlapOpKind::combine;
    if (comm != (op.stream == OverlapStream::communication)) bad(op, "runs on the wrong stream");
    for (int d : op.deps) {
      if (d < 0 || d >= i) bad(op, "waits for an op issued after it (the runtime would deadlock)");
      if (s.ops[d].end_us > op.start_us + 1e-9) bad(op, "starts before " + s.ops[d].label() + " ends");
    }
    if (op.stream_prev >= 0 && s.ops[op.stream_prev].end_us > op.start_us + 1e-9)
      bad(op, "overlaps " + s.ops[op.stream_prev].label() + " on its stream");
    // The data dependency each kind must have.
    auto has_dep = [&](OverlapOpKind kind, int layer) {
      for (int d : op.deps)
        if (s.ops[d].kind == kind && s.ops[d].micro_batch == op.micro_batch && s.ops[d].layer == layer) return true;
      return false;
    };
    switch (op.kind) {
      case OverlapOpKind::attention:
        if (op.layer > 0 && !has_dep(OverlapOpKind::combine, op.layer - 1)) bad(op, "does not wait for the previous layer's combine");
        break;
      case OverlapOpKind::dispatch:
        if (!has_dep(OverlapOpKind::attention, op.layer)) bad(op, "does not wait for its attention");
        break;
      case OverlapOpKind::experts:
        if (!has_dep(OverlapOpKind::dispatch, op.layer)) bad(op, "does not wait for its dispatch");
        break;
      case OverlapOpKind::combine:
        if (!has_dep(OverlapOpKind::experts, op.layer)) bad(op, "does not wait for its experts");
        break;
    }
  }
  const int per_layer = 4 * s.micro_batches;
  if (n != per_layer * s.layers)
    fail(Errc::invalid_argument, "overlap schedule: " + std::to_string(n) + " ops for " + std::to_string(s.layers) +
                                     " layers of " + std::to_string(s.micro_batches) + " micro-batches");
}

OverlapSchedule measured_overlap_schedule(const OverlapSchedule& plan, const std::vector<double>& start_us,
                                          const std::vector<double>& end_us) {
  if (start_us.size() != plan.ops.size() || end_us.size() != plan.ops.size())
    fail(Errc::invalid_argument, "measured overlap schedule: " + std::to_string(start_us.size()) + " starts and " +
                                     std::to_string(end_us.size()) + " ends for " + std::to_string(plan.ops.size()) +
                                     " ops");
  OverlapSchedule s = plan;
  s.phase = plan.phase + " (measured)";
  s.makespan_us = 0;
  for (std::size_t i = 0; i < s.ops.size(); ++i) {
    const double a = start_us[i], b = end_us[i];
    if (!std::isfinite(a) || !std::isfinite(b) || a < 0 || b < a)
      fail(Errc::invalid_argument, "measured overlap schedule: op " + s.ops[i].label() + " has times [" +
                                       std::to_string(a) + ", " + std::to_string(b) + "] us");
    s.ops[i].start_us = a;
    s.ops[i].end_us = b;
    s.makespan_us = std::max(s.makespan_us, b);
  }
  return s;
}

}  // namespace shapejit::planner
