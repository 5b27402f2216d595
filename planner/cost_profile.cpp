#include "shapejit/planner/cost_profile.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "file_text.hpp"
#include "shapejit/error.hpp"

namespace shapejit::planner {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}
  [[noreturn]] void bad(const std::string& path, const std::string& what) const {
    fail(Errc::invalid_argument, origin_ + ": " + path + ": " + what);
  }
  const json& object(const json& j, const std::string& key, const std::string& path) const {
    if (!j.contains(key)) bad(path, "missing field \"" + key + "\"");
    if (!j[key].is_object()) bad(path + "." + key, "must be an object");
    return j[key];
  }
  double number(const json& j, const std::string& key, const std::string& path, double fallback,
                bool required = false) const {
    if (!j.contains(key)) {
      if (required) bad(path, "missing field \"" + key + "\"");
      return fallback;
    }
    if (!j[key].is_number()) bad(path + "." + key, "must be a number");
    const double v = j[key].get<double>();
    if (!std::isfinite(v) || v < 0) bad(path + "." + key, "must be finite and ≥ 0, got " + std::to_string(v));
    return v;
  }
  int positive_int(const json& j, const std::string& key, const std::string& path, int fallback, bool required) const {
    if (!j.contains(key)) {
      if (required) bad(path, "missing field \"" + key + "\"");
      return fallback;
    }
    if (!j[key].is_number_integer() || j[key].get<long long>() <= 0 || j[key].get<long long>() > (1LL << 30))
      bad(path + "." + key, "must be a positive integer");
    return j[key].get<int>();
  }

  ComputeCost compute(const json& ops, const std::string& key, const std::string& path) const {
    const std::string p = path + "." + key;
    const json& j = object(ops, key, path);
    ComputeCost c;
    c.sm_sensitivity = number(j, "sm_sensitivity", p, 1.0);
    if (j.contains("points")) {
      if (!j["points"].is_array() || j["points"].empty()) bad(p + ".points", "must be a non-empty array of [tokens, us]");
      for (const auto& pt : j["points"]) {
        if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() || pt[0].get<double>() < 0 ||
            pt[1].get<double>() < 0)
          bad(p + ".points", "each point must be [tokens ≥ 0, us ≥ 0]");
        c.points.emplace_back(pt[0].get<double>(), pt[1].get<double>());
      }
      std::sort(c.points.begin(), c.points.end());
      for (size_t i = 1; i < c.points.size(); ++i)
        if (c.points[i].first == c.points[i - 1].first) bad(p + ".points", "two points at the same token count");
    } else {
      c.fixed_us = number(j, "fixed_us", p, 0);
      c.us_per_token = number(j, "us_per_token", p, 0, true);
    }
    return c;
  }

  CommCost comm(const json& ops, const std::string& key, const std::string& path) const {
    const std::string p = path + "." + key;
    const json& j = object(ops, key, path);
    CommCost c;
    c.fixed_us = number(j, "fixed_us", p, 0);
    c.bytes_per_token = number(j, "bytes_per_token", p, 0, true);
    c.gbps_per_sm = number(j, "gbps_per_sm", p, 0);
    c.gbps_without_sms = number(j, "gbps_without_sms", p, 0);
    c.max_gbps = number(j, "max_gbps", p, 0, true);
    if (c.max_gbps <= 0) bad(p + ".max_gbps", "must be > 0");
    if (c.gbps_per_sm <= 0 && c.gbps_without_sms <= 0)
      bad(p, "needs gbps_per_sm > 0 or gbps_without_sms > 0, else it never finishes");
    return c;
  }

  PhaseProfile phase(const json& j, const std::string& name, int sms) const {
    const std::string p = "phases." + name;
    if (!j.is_object()) bad(p, "must be an object");
    PhaseProfile ph;
    ph.name = name;
    ph.tokens = positive_int(j, "tokens", p, 0, true);
    ph.moe_layers = positive_int(j, "moe_layers", p, 1, true);
    if (ph.moe_layers > 100000) bad(p + ".moe_layers", "must be ≤ 100000");
    ph.split_align = positive_int(j, "split_align", p, 1, false);
    if (j.contains("comm_sms")) {
      if (!j["comm_sms"].is_array() || j["comm_sms"].empty()) bad(p + ".comm_sms", "must be a non-empty array");
      for (const auto& v : j["comm_sms"]) {
        if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() >= sms)
          bad(p + ".comm_sms", "each entry must be an integer in [0, " + std::to_string(sms) + ")");
        ph.comm_sms.push_back(v.get<int>());
      }
    } else {
      for (int s = 0; s <= sms / 2; s += 2) ph.comm_sms.push_back(s);
    }
    if (j.contains("other")) {
      const json& o = object(j, "other", p);
      ph.other_fixed_us = number(o, "fixed_us", p + ".other", 0);
      ph.other_us_per_token = number(o, "us_per_token", p + ".other", 0);
    }
    const json& ops = object(j, "ops", p);
    const std::string op = p + ".ops";
    ph.attention = compute(ops, "attention", op);
    ph.moe_gemm = compute(ops, "moe_gemm", op);
    ph.shared_expert = compute(ops, "shared_expert", op);
    ph.dispatch = comm(ops, "dispatch", op);
    ph.combine = comm(ops, "combine", op);
    return ph;
  }

 private:
  std::string origin_;
};

}  // namespace

double ComputeCost::time_us(double tokens, int sms_used, int sms_total) const {
  double base;
  if (points.empty()) {
    base = fixed_us + us_per_token * tokens;
  } else if (points.size() == 1) {
    base = points[0].first > 0 ? points[0].second * tokens / points[0].first : points[0].second;
  } else {
    // Linear between neighbours, extended along the first or last segment outside the table.
    size_t i = 1;
    while (i + 1 < points.size() && points[i].first < tokens) ++i;
    const auto [x0, y0] = points[i - 1];
    const auto [x1, y1] = points[i];
    base = std::max(0.0, y0 + (y1 - y0) * (tokens - x0) / (x1 - x0));
  }
  if (sms_used <= 0) return std::numeric_limits<double>::infinity();
  return base * std::pow(double(sms_total) / sms_used, sm_sensitivity);
}

double CommCost::bandwidth_gbps(int sms) const { return std::min(max_gbps, gbps_without_sms + gbps_per_sm * sms); }

double CommCost::time_us(double tokens, int sms) const {
  const double bw = bandwidth_gbps(sms);
  if (bw <= 0) return std::numeric_limits<double>::infinity();
  return fixed_us + bytes_per_token * tokens / (bw * 1e3);  // 1 GB/s moves 1e3 bytes per µs
}

CostProfile parse_cost_profile(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(Errc::invalid_argument, origin + ": not valid JSON: " + e.what());
  }
  Reader rd(origin);
  if (!j.is_object()) rd.bad("(top)", "must be an object");
  if (j.contains("format") && j["format"] != "shapejit.cost_profile.v1")
    rd.bad("format", "unknown format " + j["format"].dump() + " (expected \"shapejit.cost_profile.v1\")");
  CostProfile prof;
  prof.source = j.contains("source") && j["source"].is_string() ? j["source"].get<std::string>() : "";
  const json& dev = rd.object(j, "device", "(top)");
  prof.device = dev.contains("name") && dev["name"].is_string() ? dev["name"].get<std::string>() : "GPU";
  prof.sms = rd.positive_int(dev, "sms", "device", 0, true);
  if (prof.sms > 4096) rd.bad("device.sms", "more than 4096 SMs is not a GPU this planner knows");
  const json& phases = rd.object(j, "phases", "(top)");
  if (phases.empty()) rd.bad("phases", "no phases (expected prefill and/or decode)");
  std::vector<std::string> names;
  for (const char* known : {"prefill", "decode"})
    if (phases.contains(known)) names.push_back(known);
  for (auto it = phases.begin(); it != phases.end(); ++it)
    if (it.key() != "prefill" && it.key() != "decode") names.push_back(it.key());
  for (const auto& n : names) prof.phases.push_back(rd.phase(phases[n], n, prof.sms));
  return prof;
}

CostProfile read_cost_profile(const std::string& path) {
  return parse_cost_profile(detail::read_text_file(path, "cost profile"), path);
}

}  // namespace shapejit::planner
