// Measured dispatch/combine costs from `bench ep` output (see ep_comm_measurement.hpp).
#include "ep_comm_measurement.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/comm_cost_fit.hpp"

namespace shapejit::cli {

double ep_dispatch_row_bytes(int hidden) { return hidden + 4.0 * hidden / 128; }
double ep_combine_row_bytes(int hidden) { return 2.0 * hidden; }

namespace {

EpCommRun parse_run(const nlohmann::json& j, const std::string& path) {
  auto bad = [&](const std::string& what) {
    fail(Errc::invalid_argument, "--comm " + path + ": " + what + " (expected `shapejit bench ep --json --sweep` output)");
  };
  if (!j.is_object()) bad("not a JSON object");
  for (const char* key : {"rank", "ranks", "comm_sms", "hidden"})
    if (!j.contains(key) || !j[key].is_number_integer()) bad(std::string("missing integer \"") + key + "\"");
  if (!j.contains("points") || !j["points"].is_array()) bad("missing array \"points\"");
  EpCommRun r;
  r.origin = path;
  r.rank = j["rank"].get<int>();
  r.ranks = j["ranks"].get<int>();
  r.comm_sms = j["comm_sms"].get<int>();
  r.hidden = j["hidden"].get<int>();
  r.mode = j.value("mode", std::string("normal"));
  r.phase = j.value("phase", std::string());
  r.device = j.value("device", std::string("unknown device"));
  if (r.mode != "normal" && r.mode != "low-latency") bad("mode '" + r.mode + "'");
  if (r.ranks < 1 || r.comm_sms < 1 || r.hidden < 128) bad("ranks, comm_sms and hidden must be positive");
  for (const auto& p : j["points"]) {
    for (const char* key : {"tokens", "received_rows", "dispatch_us", "combine_us"})
      if (!p.is_object() || !p.contains(key) || !p[key].is_number()) bad(std::string("a point lacks \"") + key + "\"");
    r.points.push_back({p["tokens"].get<int>(), p["received_rows"].get<double>(), p["dispatch_us"].get<double>(),
                        p["combine_us"].get<double>()});
  }
  return r;
}

}  // namespace

EpCommRun read_ep_comm_run(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::invalid_argument, "--comm " + path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  // One object per rank, back to back (the launcher's output of every rank gathered in a file).
  std::vector<EpCommRun> runs;
  const std::string s = text.str();
  std::size_t at = 0;
  while ((at = s.find_first_not_of(" \t\r\n", at)) != std::string::npos) {
    nlohmann::json j;
    std::size_t end = at;
    try {
      // Parse one value starting at `at`: find the matching close brace by depth.
      int depth = 0;
      bool in_string = false, escaped = false;
      for (; end < s.size(); ++end) {
        const char c = s[end];
        if (in_string) {
          if (escaped) escaped = false;
          else if (c == '\\') escaped = true;
          else if (c == '"') in_string = false;
        } else if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) break;
        }
      }
      j = nlohmann::json::parse(s.substr(at, end + 1 - at));
    } catch (const nlohmann::json::exception& e) {
      fail(Errc::invalid_argument, "--comm " + path + ": not JSON: " + e.what());
    }
    runs.push_back(parse_run(j, path));
    at = end + 1;
  }
  for (const EpCommRun& r : runs)
    if (r.rank == 0) return r;
  fail(Errc::invalid_argument, "--comm " + path + ": no run of rank 0 in it");
}

std::string ep_comm_phase(const EpCommRun& run) {
  if (!run.phase.empty()) return run.phase;
  return run.mode == "low-latency" ? "decode" : "prefill";
}

std::vector<planner::MeasuredComm> fit_ep_comm(const EpCommRun& run) {
  std::vector<std::pair<double, double>> d, k;
  double rows_per_token = 0;
  int lo = 0, hi = 0;
  for (const EpCommPoint& p : run.points) {
    d.push_back({double(p.tokens), p.dispatch_us});
    k.push_back({double(p.tokens), p.combine_us});
    rows_per_token = std::max(rows_per_token, p.received_rows / std::max(1, p.tokens));
    lo = lo ? std::min(lo, p.tokens) : p.tokens;
    hi = std::max(hi, p.tokens);
  }
  if (!(rows_per_token > 0))
    fail(Errc::invalid_argument, run.origin + ": no point received any rows, so no bandwidth can be fitted");
  std::ostringstream how;
  how << "shapejit bench ep (" << run.mode << ") on " << run.ranks << " rank(s) of " << run.device << ", "
      << run.comm_sms << " SMs for NCCL, points at " << lo << ".." << hi << " tokens, from " << run.origin
      << "; bandwidth taken proportional to SMs below that, flat above";
  const std::string phase = ep_comm_phase(run);
  auto fit = [&](const std::vector<std::pair<double, double>>& pts, double row_bytes, const char* op) {
    try {
      return planner::fit_comm_cost(pts, rows_per_token * row_bytes, run.comm_sms);
    } catch (const Error& e) {
      fail(Errc::invalid_argument, run.origin + ": " + op + ": " + e.what() +
                                       " (measure several token counts: bench ep --json --sweep)");
    }
  };
  return {{phase, "dispatch", fit(d, ep_dispatch_row_bytes(run.hidden), "dispatch"), how.str()},
          {phase, "combine", fit(k, ep_combine_row_bytes(run.hidden), "combine"), how.str()}};
}

}  // namespace shapejit::cli
