#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "shapejit/error.hpp"
#include "shapejit/planner/overlap.hpp"

namespace shapejit::planner {
namespace {

constexpr int kMaxSplitPoints = 64;

std::string us(double v) {
  char b[32];
  if (v >= 1e4)
    std::snprintf(b, sizeof b, "%.2f ms", v / 1e3);
  else
    std::snprintf(b, sizeof b, "%.1f us", v);
  return b;
}

std::string describe(const OverlapCandidate& c) {
  std::string s = c.split ? "two micro-batches " + std::to_string(c.tokens[0]) + " + " + std::to_string(c.tokens[1])
                          : "one micro-batch of " + std::to_string(c.tokens[0]);
  return s + " tokens, " + std::to_string(c.comm_sms) + " SMs for communication";
}

bool better(const OverlapCandidate& a, const OverlapCandidate& b) {
  // Shorter step; on a tie (within 0.01%) prefer no split, then fewer communication SMs, then the
  // more even split.
  if (a.step_us < b.step_us * (1 - 1e-4)) return true;
  if (b.step_us < a.step_us * (1 - 1e-4)) return false;
  if (a.split != b.split) return !a.split;
  if (a.comm_sms != b.comm_sms) return a.comm_sms < b.comm_sms;
  return std::abs(a.tokens[0] - a.tokens[1]) < std::abs(b.tokens[0] - b.tokens[1]);
}

}  // namespace

OverlapCandidate evaluate_overlap(const PhaseProfile& ph, int sms, bool split, int first_tokens, int comm_sms) {
  OverlapCandidate c;
  c.split = split;
  c.comm_sms = comm_sms;
  c.tokens[0] = split ? first_tokens : ph.tokens;
  c.tokens[1] = split ? ph.tokens - first_tokens : 0;
  const double inf = std::numeric_limits<double>::infinity();
  const int compute_sms = split ? sms - comm_sms : sms;
  auto expert = [&](double t) {
    return ph.moe_gemm.time_us(t, compute_sms, sms) + ph.shared_expert.time_us(t, compute_sms, sms);
  };
  double total = 0;
  if (!split) {
    const double t = ph.tokens;
    c.compute_us = ph.attention.time_us(t, compute_sms, sms) + expert(t);
    c.comm_us = ph.dispatch.time_us(t, comm_sms) + ph.combine.time_us(t, comm_sms);
    c.layer_us = c.compute_us + c.comm_us;
    total = c.layer_us * ph.moe_layers;
  } else {
    double a[2], d[2], e[2], k[2];
    for (int x = 0; x < 2; ++x) {
      a[x] = ph.attention.time_us(c.tokens[x], compute_sms, sms);
      e[x] = expert(c.tokens[x]);
      d[x] = ph.dispatch.time_us(c.tokens[x], comm_sms);
      k[x] = ph.combine.time_us(c.tokens[x], comm_sms);
    }
    c.compute_us = a[0] + a[1] + e[0] + e[1];
    c.comm_us = d[0] + d[1] + k[0] + k[1];
    if (!std::isfinite(c.compute_us + c.comm_us)) {
      total = inf;
    } else {
      double compute_free = 0, comm_free = 0, ready[2] = {0, 0}, a_end[2], d_end[2], e_end[2];
      for (int l = 0; l < ph.moe_layers; ++l) {
        for (int x = 0; x < 2; ++x) compute_free = a_end[x] = std::max(compute_free, ready[x]) + a[x];
        for (int x = 0; x < 2; ++x) comm_free = d_end[x] = std::max(comm_free, a_end[x]) + d[x];
        for (int x = 0; x < 2; ++x) compute_free = e_end[x] = std::max(compute_free, d_end[x]) + e[x];
        for (int x = 0; x < 2; ++x) comm_free = ready[x] = std::max(comm_free, e_end[x]) + k[x];
      }
      total = std::max(ready[0], ready[1]);
    }
    c.layer_us = total / ph.moe_layers;
  }
  c.step_us = total + ph.other_fixed_us + ph.other_us_per_token * ph.tokens;
  c.tokens_per_s = std::isfinite(c.step_us) && c.step_us > 0 ? ph.tokens / (c.step_us * 1e-6) : 0;
  return c;
}

OverlapChoice choose_overlap(const PhaseProfile& ph, int sms) {
  OverlapChoice out;
  out.phase = ph.name;
  // Split points: multiples of split_align, at most kMaxSplitPoints of them, always with the
  // (aligned) half.
  std::vector<int> firsts;
  const int align = std::max(1, ph.split_align);
  const int slots = ph.tokens / align;
  if (slots >= 2) {
    const int stride = std::max(1, (slots - 1 + kMaxSplitPoints - 1) / kMaxSplitPoints);
    for (int i = 1; i < slots; i += stride) firsts.push_back(i * align);
    firsts.push_back(slots / 2 * align);
    std::sort(firsts.begin(), firsts.end());
    firsts.erase(std::unique(firsts.begin(), firsts.end()), firsts.end());
  }
  bool have = false, have_unsplit = false, have_even = false;
  const int even = slots / 2 * align;
  for (int s : ph.comm_sms) {
    const OverlapCandidate one = evaluate_overlap(ph, sms, false, 0, s);
    if (std::isfinite(one.step_us)) {
      out.evaluated.push_back(one);
      if (!have_unsplit || better(one, out.best_unsplit)) out.best_unsplit = one, have_unsplit = true;
    }
    if (s <= 0 && ph.dispatch.bandwidth_gbps(0) <= 0) continue;
    for (int f : firsts) {
      const OverlapCandidate two = evaluate_overlap(ph, sms, true, f, s);
      if (!std::isfinite(two.step_us)) continue;
      out.evaluated.push_back(two);
      if (f == even && (!have_even || better(two, out.best_even_split))) out.best_even_split = two, have_even = true;
    }
  }
  for (const auto& c : out.evaluated)
    if (!have || better(c, out.best)) out.best = c, have = true;
  if (!have)
    fail(Errc::invalid_argument, "phase " + ph.name + ": no candidate can run (communication has no bandwidth "
                                 "with any of the comm_sms candidates)");

  auto& why = out.reasoning;
  const OverlapCandidate& b = out.best;
  char line[512];
  std::snprintf(line, sizeof line, "%s: %d tokens per GPU, %d MoE layers, %d SMs; %zu candidates evaluated.",
                ph.name.c_str(), ph.tokens, ph.moe_layers, sms, out.evaluated.size());
  why.push_back(line);
  if (have_unsplit) {
    const auto& u = out.best_unsplit;
    why.push_back("Best without a split: " + describe(u) + ": layer " + us(u.layer_us) + " = compute " +
                  us(u.compute_us) + " + communication " + us(u.comm_us) + ", nothing overlaps.");
  }
  if (have_even) {
    const auto& e = out.best_even_split;
    why.push_back("Best even split: " + describe(e) + ": layer " + us(e.layer_us) + "; compute " + us(e.compute_us) +
                  " on " + std::to_string(sms - e.comm_sms) + " SMs against communication " + us(e.comm_us) + ".");
  }
  if (b.split) {
    const double hidden = std::min(b.compute_us, b.comm_us);
    std::snprintf(line, sizeof line,
                  "Chosen: %s. The step is %s-bound: %s of %s per layer hides under the other micro-batch's %s.",
                  describe(b).c_str(), b.comm_us > b.compute_us ? "communication" : "compute", us(hidden).c_str(),
                  b.comm_us > b.compute_us ? "compute" : "communication",
                  b.comm_us > b.compute_us ? "communication" : "compute");
    why.push_back(line);
    if (have_unsplit) {
      std::snprintf(line, sizeof line, "Splitting saves %.1f%% of the step against the best unsplit candidate.",
                    100 * (1 - b.step_us / out.best_unsplit.step_us));
      why.push_back(line);
    }
    if (b.tokens[0] != b.tokens[1] && have_even) {
      std::snprintf(line, sizeof line,
                    "The uneven split beats the even one by %.2f%%: unequal halves shorten the start-up "
                    "and drain of the two-stream overlap.",
                    100 * (1 - b.step_us / out.best_even_split.step_us));
      why.push_back(line);
    }
    // Neighbouring SM counts with the same split show the trade-off.
    const OverlapCandidate* fewer = nullptr;
    const OverlapCandidate* more = nullptr;
    for (const auto& c : out.evaluated) {
      if (!c.split || c.tokens[0] != b.tokens[0]) continue;
      if (c.comm_sms < b.comm_sms && (!fewer || c.comm_sms > fewer->comm_sms)) fewer = &c;
      if (c.comm_sms > b.comm_sms && (!more || c.comm_sms < more->comm_sms)) more = &c;
    }
    if (fewer)
      why.push_back("With " + std::to_string(fewer->comm_sms) + " SMs communication takes " + us(fewer->comm_us) +
                    " per layer and the layer " + us(fewer->layer_us) + ".");
    if (more)
      why.push_back("With " + std::to_string(more->comm_sms) + " SMs compute takes " + us(more->compute_us) +
                    " per layer and the layer " + us(more->layer_us) + ".");
  } else {
    std::string reason = "Chosen: " + describe(b) + ".";
    if (have_even)
      reason += " Splitting does not pay: the best split takes " + us(out.best_even_split.step_us) + " per step against " +
                us(b.step_us) + " (per-op fixed costs and SMs lost to communication outweigh what overlap hides).";
    why.push_back(reason);
  }
  std::snprintf(line, sizeof line, "Expected step %s, %.0f tokens/s per GPU.", us(b.step_us).c_str(), b.tokens_per_s);
  why.push_back(line);
  return out;
}

std::vector<OverlapChoice> choose_overlap(const CostProfile& profile) {
  std::vector<OverlapChoice> out;
  for (const auto& ph : profile.phases) out.push_back(choose_overlap(ph, profile.sms));
  return out;
}

}  // namespace shapejit::planner
