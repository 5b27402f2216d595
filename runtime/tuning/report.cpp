// Session reports: per shape, every measured candidate, the baseline and the winner.
#include <algorithm>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "shapejit/runtime/tuning_report.hpp"

namespace shapejit::runtime::tuning {
namespace {

struct ShapeResult {
  std::string op, shape;
  std::vector<const cache::TuningRecord*> measured, rejected;
  const cache::TuningRecord* baseline = nullptr;
  const cache::TuningRecord* winner = nullptr;
  const cache::TuningRecord* reference = nullptr;   // e.g. cuBLASLt on the same operands
  long long pruned = 0, unmeasured = 0;
};

std::vector<ShapeResult> by_shape(const std::vector<cache::TuningRecord>& records) {
  std::map<std::pair<std::string, std::string>, ShapeResult> m;
  for (const cache::TuningRecord& r : records) {
    ShapeResult& s = m[{r.spec_family, r.shape_json}];
    s.op = r.spec_family;
    s.shape = r.shape_json;
    if (r.status == cache::kTuningWinner) {
      s.winner = &r;
    } else if (r.status == cache::kTuningReference) {
      s.reference = &r;
    } else if (r.status == cache::kTuningMeasured) {
      s.measured.push_back(&r);
      if (r.baseline) s.baseline = &r;
    } else if (r.status == cache::kTuningRejected) {
      s.rejected.push_back(&r);
    } else if (r.status == cache::kTuningPruned) {
      ++s.pruned;
    } else {
      ++s.unmeasured;
    }
  }
  std::vector<ShapeResult> out;
  for (auto& [k, s] : m) {
    std::sort(s.measured.begin(), s.measured.end(),
              [](const cache::TuningRecord* a, const cache::TuningRecord* b) { return a->time_us < b->time_us; });
    out.push_back(std::move(s));
  }
  return out;
}

double speedup(const ShapeResult& s) {
  if (!s.winner || s.winner->time_us <= 0 || s.winner->baseline_us <= 0) return 0;
  return s.winner->baseline_us / s.winner->time_us;
}

// What the session leaves the shape with: the winner's time in the final interleaved runs, or
// the baseline's when nothing was decided.
double chosen_us(const ShapeResult& s) {
  if (s.winner) return s.winner->time_us;
  return s.baseline ? s.baseline->time_us : 0;
}

// The reference's time over the chosen config's (> 1: faster than the reference); 0: none.
double speedup_over_reference(const ShapeResult& s) {
  if (!s.reference || s.reference->time_us <= 0 || chosen_us(s) <= 0) return 0;
  return s.reference->time_us / chosen_us(s);
}

std::string reference_name(const cache::TuningRecord& r) {
  try {
    return nlohmann::json::parse(r.config_json).at("reference").get<std::string>();
  } catch (const std::exception&) {
    return "reference";
  }
}

std::string xml(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default: o += c;
    }
  }
  return o;
}

// "BLOCK_M=128 BLOCK_N=128 ..." from the config JSON.
std::string config_text(const std::string& json) {
  try {
    std::string o;
    const nlohmann::json j = nlohmann::json::parse(json);
    for (const auto& [k, v] : j.items()) o += (o.empty() ? "" : " ") + k + "=" + v.dump();
    return o;
  } catch (const std::exception&) {
    return json;
  }
}

std::string num(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

}  // namespace

std::string report_json(const std::string& session, const std::vector<cache::TuningRecord>& records) {
  nlohmann::json shapes = nlohmann::json::array();
  for (const ShapeResult& s : by_shape(records)) {
    nlohmann::json cands = nlohmann::json::array();
    for (const cache::TuningRecord* r : s.measured)
      cands.push_back({{"config", nlohmann::json::parse(r->config_json)}, {"median_us", r->time_us},
                       {"spread_us", r->spread_us}, {"throughput", r->throughput},
                       {"throughput_unit", r->throughput_unit}, {"baseline", r->baseline},
                       {"note", r->reason}});
    for (const cache::TuningRecord* r : s.rejected)
      cands.push_back({{"config", nlohmann::json::parse(r->config_json)}, {"rejected", r->reason}});
    nlohmann::json j = {{"op", s.op}, {"shape", nlohmann::json::parse(s.shape)}, {"candidates", cands},
                        {"pruned", s.pruned}, {"unmeasured", s.unmeasured}};
    j["baseline_us"] = s.baseline ? nlohmann::json(s.baseline->time_us) : nlohmann::json(nullptr);
    if (s.winner) {
      j["winner"] = {{"config", nlohmann::json::parse(s.winner->config_json)}, {"median_us", s.winner->time_us},
                     {"baseline_us", s.winner->baseline_us}, {"is_baseline", s.winner->baseline},
                     {"speedup", speedup(s)}, {"why", s.winner->reason}};
    } else {
      j["winner"] = nullptr;
    }
    if (s.reference) {
      j["reference"] = {{"name", reference_name(*s.reference)}, {"median_us", s.reference->time_us},
                        {"spread_us", s.reference->spread_us}, {"throughput", s.reference->throughput},
                        {"throughput_unit", s.reference->throughput_unit}};
      if (!s.reference->reason.empty()) j["reference"]["error"] = s.reference->reason;
      const double r = speedup_over_reference(s);
      j["speedup_over_reference"] = r > 0 ? nlohmann::json(r) : nlohmann::json(nullptr);
    } else {
      j["reference"] = nullptr;
      j["speedup_over_reference"] = nullptr;
    }
    shapes.push_back(std::move(j));
  }
  return nlohmann::json{{"session", session}, {"shapes", shapes}}.dump(2);
}

std::string report_svg(const std::string& session, const std::vector<cache::TuningRecord>& records) {
  constexpr int kWidth = 900, kLabel = 330, kBarMax = 420, kBar = 10, kGap = 3, kTitle = 22;
  const std::vector<ShapeResult> shapes = by_shape(records);
  std::string body;
  int y = 40;
  for (const ShapeResult& s : shapes) {
    std::string title = s.op + " " + s.shape + ": ";
    if (s.winner && !s.winner->baseline)
      title += num("winner %.3fx over the heuristic", speedup(s));
    else if (s.winner)
      title += "the heuristic's pick stays";
    else
      title += "no decision";
    if (const double r = speedup_over_reference(s); r > 0)
      title += num(", %.3fx ", r) + "over " + reference_name(*s.reference);
    else if (s.reference)
      title += ", " + reference_name(*s.reference) + " not timed: " + s.reference->reason;
    title += " (" + std::to_string(s.measured.size()) + " measured, " + std::to_string(s.rejected.size()) +
             " rejected, " + std::to_string(s.pruned) + " pruned, " + std::to_string(s.unmeasured) + " not measured)";
    body += "<text x=\"10\" y=\"" + std::to_string(y) + "\" class=\"shape\">" + xml(title) + "</text>\n";
    y += kTitle - 8;
    // Bars: speed relative to the baseline (longer is faster); the slowest fits the scale.
    double base = s.baseline ? s.baseline->time_us : (s.measured.empty() ? 0 : s.measured.back()->time_us);
    double best_ratio = 1;
    for (const cache::TuningRecord* r : s.measured)
      if (r->time_us > 0 && base > 0) best_ratio = std::max(best_ratio, base / r->time_us);
    if (s.reference && s.reference->time_us > 0 && base > 0)
      best_ratio = std::max(best_ratio, base / s.reference->time_us);
    for (const cache::TuningRecord* r : s.measured) {
      const double ratio = r->time_us > 0 && base > 0 ? base / r->time_us : 0;
      const int w = std::max(1, static_cast<int>(kBarMax * ratio / best_ratio));
      const bool is_winner = s.winner && !s.winner->baseline && s.winner->config_json == r->config_json;
      const char* cls = r->baseline ? "baseline" : is_winner ? "winner" : "cand";
      const std::string label = config_text(r->config_json);
      body += "<g><title>" + xml(label + ": " + num("%.2f us", r->time_us) + num(" ± %.2f", r->spread_us) +
                                 (r->reason.empty() ? "" : " (" + r->reason + ")")) + "</title>";
      body += "<text x=\"10\" y=\"" + std::to_string(y + kBar - 1) + "\" class=\"cfg\">" + xml(label) + "</text>";
      body += "<rect x=\"" + std::to_string(kLabel) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
              std::to_string(w) + "\" height=\"" + std::to_string(kBar) + "\" class=\"" + cls + "\"/>";
      body += "<text x=\"" + std::to_string(kLabel + w + 4) + "\" y=\"" + std::to_string(y + kBar - 1) +
              "\" class=\"cfg\">" + xml(num("%.2f us", r->time_us) + num(" (%.2fx)", ratio)) + "</text></g>\n";
      y += kBar + kGap;
    }
    if (s.reference && s.reference->time_us > 0 && base > 0) {
      const double ratio = base / s.reference->time_us;
      const int w = std::max(1, static_cast<int>(kBarMax * ratio / best_ratio));
      const std::string label = reference_name(*s.reference);
      body += "<g><title>" + xml(label + ": " + num("%.2f us", s.reference->time_us) +
                                 num(" ± %.2f", s.reference->spread_us)) + "</title>";
      body += "<text x=\"10\" y=\"" + std::to_string(y + kBar - 1) + "\" class=\"cfg\">" + xml(label) + "</text>";
      body += "<rect x=\"" + std::to_string(kLabel) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
              std::to_string(w) + "\" height=\"" + std::to_string(kBar) + "\" class=\"reference\"/>";
      body += "<text x=\"" + std::to_string(kLabel + w + 4) + "\" y=\"" + std::to_string(y + kBar - 1) +
              "\" class=\"cfg\">" + xml(num("%.2f us", s.reference->time_us) + num(" (%.2fx)", ratio)) + "</text></g>\n";
      y += kBar + kGap;
    }
    for (const cache::TuningRecord* r : s.rejected) {
      const std::string label = config_text(r->config_json);
      body += "<g><title>" + xml(label + ": " + r->reason) + "</title><text x=\"10\" y=\"" +
              std::to_string(y + kBar - 1) + "\" class=\"cfg rejected\">" + xml(label + ": rejected") +
              "</text></g>\n";
      y += kBar + kGap;
    }
    y += kTitle;
  }
  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(kWidth) + "\" height=\"" +
         std::to_string(y + 10) + "\" viewBox=\"0 0 " + std::to_string(kWidth) + " " + std::to_string(y + 10) + "\">\n";
  svg += "<style>text{font-family:sans-serif}.shape{font-size:12px;font-weight:bold}.cfg{font-size:9px}"
         ".rejected{fill:#b00}.cand{fill:#6a8fc7}.baseline{fill:#888}.winner{fill:#2a2}.reference{fill:#c80}</style>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"10\" y=\"20\" class=\"shape\">" +
         xml("tuning session " + session + ": bar length = speed relative to the heuristic's pick (grey); "
             "green = winner; orange = a reference library on the same operands") + "</text>\n";
  svg += body + "</svg>\n";
  return svg;
}

}  // namespace shapejit::runtime::tuning
