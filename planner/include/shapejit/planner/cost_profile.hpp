#pragma once
// Cost profile: per-op times of one MoE layer as functions of the tokens in a micro-batch and of
// the SMs left to compute or given to communication. Read from JSON (format in docs/planner.md):
//
// {"format": "shapejit.cost_profile.v1", "source": "...", "device": {"name": "H800", "sms": 132},
//  "phases": {"prefill": PHASE, "decode": PHASE}}
// PHASE = {"tokens": tokens per GPU per step, "moe_layers": L,
//          "comm_sms": [candidates] (optional), "split_align": tokens (optional, default 1),
//          "other": {"fixed_us": .., "us_per_token": ..} (optional: dense layers, head, ...),
//          "ops": {"attention": COMPUTE, "moe_gemm": COMPUTE, "shared_expert": COMPUTE,
//                  "dispatch": COMM, "combine": COMM}}
// COMPUTE = {"fixed_us": a, "us_per_token": b, "sm_sensitivity": k (default 1)}
//           time(t, c SMs) = (a + b·t) · (sms / c)^k            (a, b measured with all SMs)
//           or {"points": [[tokens, us], ...], "sm_sensitivity": k}: piecewise linear in t
// COMM    = {"fixed_us": a, "bytes_per_token": n, "gbps_per_sm": g, "gbps_without_sms": g0,
//            "max_gbps": G}
//           time(t, s SMs) = a + n·t / bandwidth,  bandwidth = min(G, g0 + g·s) GB/s
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace shapejit::planner {

struct ComputeCost {
  double fixed_us = 0;
  double us_per_token = 0;
  std::vector<std::pair<double, double>> points;  // (tokens, us), sorted; replaces the line if set
  double sm_sensitivity = 1;
  double time_us(double tokens, int sms_used, int sms_total) const;
};

struct CommCost {
  double fixed_us = 0;
  double bytes_per_token = 0;
  double gbps_per_sm = 0;
  double gbps_without_sms = 0;
  double max_gbps = 0;
  double bandwidth_gbps(int sms) const;
  double time_us(double tokens, int sms) const;  // +inf when the bandwidth is 0
};

struct PhaseProfile {
  std::string name;
  int tokens = 0;
  int moe_layers = 1;
  std::vector<int> comm_sms;  // candidates; default every 2 SMs from 0 to half the device
  int split_align = 1;
  double other_fixed_us = 0;
  double other_us_per_token = 0;
  ComputeCost attention, moe_gemm, shared_expert;
  CommCost dispatch, combine;
};

struct CostProfile {
  std::string source;
  std::string device;
  int sms = 0;
  std::vector<PhaseProfile> phases;  // in file order of "prefill", "decode", then others by name
};

CostProfile parse_cost_profile(const std::string& json_text, const std::string& origin = "profile");
CostProfile read_cost_profile(const std::string& path);

}  // namespace shapejit::planner
