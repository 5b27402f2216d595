#include "shapejit/planner/pipeline_simulator.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "shapejit/error.hpp"

namespace shapejit::planner {
namespace {

std::string pass_text(const Pass& p) {
  return std::string(1, char(p.kind)) + std::to_string(p.micro_batch) + "@stage" + std::to_string(p.stage);
}

}  // namespace

double SimulationResult::max_bubble() const {
  double m = 0;
  for (const auto& r : ranks) m = std::max(m, r.bubble);
  return m;
}
int SimulationResult::max_peak_activations() const {
  int m = 0;
  for (const auto& r : ranks) m = std::max(m, r.peak_activations);
  return m;
}
int SimulationResult::max_parameter_copies() const {
  int m = 0;
  for (const auto& r : ranks) m = std::max(m, r.parameter_copies);
  return m;
}

void check_pass_costs(const PassCosts& c) {
  for (double v : {c.forward, c.backward, c.weight, c.forward_backward, c.p2p})
    if (!std::isfinite(v) || v < 0)
      fail(Errc::invalid_argument, "pass costs must be finite and ≥ 0 (F, B, W, FB, p2p)");
  if (c.weight > c.backward)
    fail(Errc::invalid_argument, "weight-gradient cost W = " + std::to_string(c.weight) +
                                     " exceeds the full backward B = " + std::to_string(c.backward));
}

PassCosts parse_pass_costs(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, origin + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) fail(Errc::invalid_argument, origin + ": expected an object like {\"F\": 1, \"B\": 2, \"W\": 1}");
  PassCosts c;
  const std::pair<const char*, double*> fields[] = {
      {"F", &c.forward}, {"B", &c.backward}, {"W", &c.weight}, {"FB", &c.forward_backward}, {"p2p", &c.p2p}};
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const auto& [name, slot] : fields) {
      if (it.key() != name) continue;
      if (!it->is_number()) fail(Errc::invalid_argument, origin + ": \"" + it.key() + "\" must be a number");
      *slot = it->get<double>();
      known = true;
    }
    if (!known) fail(Errc::invalid_argument, origin + ": unknown field \"" + it.key() + "\" (known: F, B, W, FB, p2p)");
  }
  check_pass_costs(c);
  return c;
}

SimulationResult simulate(const Schedule& s, const PassCosts& costs) {
  check_pass_costs(costs);
  const int M = s.micro_batches;
  const size_t cells = size_t(s.stages) * size_t(M);
  // End time of each (stage, micro-batch) forward and backward (B or I) and of the I's W; −1 = not yet.
  std::vector<double> f_end(cells, -1), b_end(cells, -1);
  SimulationResult out;
  out.ranks.resize(s.ranks);
  out.timing.resize(s.ranks);
  std::vector<size_t> next(s.ranks, 0);
  std::vector<double> free_at(s.ranks, 0);
  std::vector<int> live(s.ranks, 0);
  size_t remaining = 0;
  for (int r = 0; r < s.ranks; ++r) {
    remaining += s.ops[r].size();
    out.timing[r].resize(s.ops[r].size());
    std::set<int> stages;
    for (const auto& op : s.ops[r])
      for (int i = 0; i < op.passes; ++i) stages.insert(op.pass[i].stage);
    out.ranks[r].parameter_copies = int(stages.size());
  }
  // Arrival time of an input produced by `producer_end` on `from` for rank r; −1 if not produced.
  auto arrival = [&](double producer_end, int from, int r) {
    if (producer_end < 0) return -1.0;
    return producer_end + (from == r ? 0.0 : costs.p2p);
  };
  auto ready_time = [&](const Pass& p, int r) {
    const size_t c = size_t(p.stage) * M + p.micro_batch;
    double t = 0;
    auto need = [&](double arrive) {
      if (arrive < 0) return false;
      t = std::max(t, arrive);
      return true;
    };
    switch (p.kind) {
      case PassKind::forward:
        if (p.stage > 0 && !need(arrival(f_end[c - M], s.rank_of(p.stage - 1, p.micro_batch), r))) return -1.0;
        return t;
      case PassKind::backward:
      case PassKind::backward_input:
        if (!need(f_end[c])) return -1.0;
        if (p.stage + 1 < s.stages && !need(arrival(b_end[c + M], s.rank_of(p.stage + 1, p.micro_batch), r)))
          return -1.0;
        return t;
      case PassKind::weight:
        return need(b_end[c]) ? t : -1.0;
    }
    return -1.0;
  };
  auto cost_of = [&](const PipelineOp& op) {
    if (op.overlapped()) return costs.overlapped();
    switch (op.pass[0].kind) {
      case PassKind::forward: return costs.forward;
      case PassKind::backward: return costs.backward;
      case PassKind::backward_input: return costs.backward - costs.weight;
      case PassKind::weight: return costs.weight;
    }
    return 0.0;
  };
  while (remaining > 0) {
    bool progress = false;
    for (int r = 0; r < s.ranks; ++r) {
      while (next[r] < s.ops[r].size()) {
        const PipelineOp& op = s.ops[r][next[r]];
        double start = free_at[r];
        bool ready = true;
        for (int i = 0; i < op.passes && ready; ++i) {
          const double t = ready_time(op.pass[i], r);
          ready = t >= 0;
          start = std::max(start, t);
        }
        if (!ready) break;
        const double end = start + cost_of(op);
        RankResult& rr = out.ranks[r];
        for (int i = 0; i < op.passes; ++i) live[r] += op.pass[i].kind == PassKind::forward;
        rr.peak_activations = std::max(rr.peak_activations, live[r]);
        for (int i = 0; i < op.passes; ++i) {
          const Pass& p = op.pass[i];
          const size_t c = size_t(p.stage) * M + p.micro_batch;
          if (p.kind == PassKind::forward) f_end[c] = end;
          if (p.kind == PassKind::backward || p.kind == PassKind::backward_input) {
            b_end[c] = end;
            --live[r];
          }
        }
        rr.busy += end - start;
        out.timing[r][next[r]] = {start, end};
        free_at[r] = end;
        ++next[r];
        --remaining;
        progress = true;
      }
    }
    if (!progress) {
      std::string stuck;
      for (int r = 0; r < s.ranks; ++r)
        if (next[r] < s.ops[r].size()) {
          const PipelineOp& op = s.ops[r][next[r]];
          stuck += " rank " + std::to_string(r) + ": " + pass_text(op.pass[0]) +
                   (op.overlapped() ? "&" + pass_text(op.pass[1]) : "") + ";";
        }
      fail(Errc::invalid_argument, std::string(to_string(s.kind)) + " schedule deadlocks; waiting:" + stuck);
    }
  }
  for (double t : free_at) out.makespan = std::max(out.makespan, t);
  for (auto& r : out.ranks) r.bubble = out.makespan - r.busy;
  return out;
}

PublishedFigures published_figures(ScheduleKind kind, int P, const PassCosts& c) {
  PublishedFigures f;
  const double F = c.forward, B = c.backward, W = c.weight, FB = c.overlapped();
  switch (kind) {
    case ScheduleKind::one_f_one_b:
      f = {(P - 1) * (F + B), 1, P, P, "(P-1)(F+B)"};
      break;
    case ScheduleKind::zb1p:
      f = {(P - 1) * (F + B - 2 * W), 1, P, P, "(P-1)(F+B-2W)"};
      break;
    case ScheduleKind::dualpipe:
      f = {(P / 2.0 - 1) * (FB + B - 3 * W), 2, P + 1, P, "(P/2-1)(F&B+B-3W)"};
      break;
    case ScheduleKind::dualpipev:
      f = {(P / 2.0 - 1) * (FB + B - 3 * W), 2, P + 1, P / 2, "(P/2-1)(F&B+B-3W)"};
      break;
  }
  return f;
}

}  // namespace shapejit::planner
