// shapejit tune ls | show ID | report ID --svg FILE: a session's records for people and scripts.
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cache_open.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/tuning.hpp"
#include "tune_commands.hpp"

namespace shapejit::cli {
namespace {

namespace tuning = runtime::tuning;

struct RecordArgs {
  std::string cache, id, svg;
  const std::string* parent_cache = nullptr;
  bool json = false;
  std::string path() const { return cache.empty() ? *parent_cache : cache; }
};

std::string when(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::gmtime(&tt));
  return buf;
}

nlohmann::json record_json(const cache::TuningRecord& r) {
  return {{"op", r.spec_family},        {"shape", nlohmann::json::parse(r.shape_json)},
          {"config", nlohmann::json::parse(r.config_json)},
          {"status", r.status},         {"reason", r.reason},
          {"median_us", r.time_us},     {"spread_us", r.spread_us},
          {"baseline_us", r.baseline_us}, {"throughput", r.throughput},
          {"throughput_unit", r.throughput_unit}, {"baseline", r.baseline},
          {"spec", r.spec},             {"device", r.device},
          {"arch", r.arch},             {"num_sms", r.num_sms},
          {"driver_version", r.driver_version}, {"nvrtc_version", r.nvrtc_version},
          {"definition_version", r.definition_version}, {"recorded_at", r.measured_at}};
}

cache::TuningSession find_session(cache::KernelStore& store, const std::string& id) {
  auto s = store.tuning_session(id);
  if (!s) fail(Errc::invalid_argument, "tune: no session '" + id + "' in " + store.path().string() +
                                           " (see `shapejit tune ls`)");
  return *s;
}

void cmd_ls(const RecordArgs& a) {
  auto store = open_cache(cache_path(a.path()), CacheAccess::existing);
  const auto sessions = tuning::list_sessions(*store);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : sessions)
      out.push_back({{"id", s.id}, {"state", s.state}, {"created", s.created}, {"updated", s.updated},
                     {"device", s.device}, {"summary", nlohmann::json::parse(s.summary_json)}});
    std::cout << out.dump() << "\n";
    return;
  }
  for (const auto& s : sessions) {
    const nlohmann::json sum = nlohmann::json::parse(s.summary_json);
    std::cout << s.id << "  " << std::left << std::setw(9) << s.state << std::right << " " << when(s.created)
              << "  " << sum.value("shapes", 0) << " shapes, " << sum.value("measured", 0) << " measured, "
              << sum.value("winners", 0) << " winners  " << s.device << "\n";
  }
  std::cout << sessions.size() << " sessions\n";
}

void cmd_show(const RecordArgs& a) {
  auto store = open_cache(cache_path(a.path()), CacheAccess::existing);
  const cache::TuningSession s = find_session(*store, a.id);
  const auto records = tuning::session_records(*store, a.id);
  if (a.json) {
    nlohmann::json rs = nlohmann::json::array();
    for (const auto& r : records) rs.push_back(record_json(r));
    std::cout << nlohmann::json{{"id", s.id}, {"state", s.state}, {"created", s.created}, {"updated", s.updated},
                                {"device", s.device}, {"request", nlohmann::json::parse(s.request_json)},
                                {"summary", nlohmann::json::parse(s.summary_json)}, {"records", rs}}
                     .dump()
              << "\n";
    return;
  }
  std::cout << "session " << s.id << " (" << s.state << "), started " << when(s.created) << " UTC\n"
            << "context: " << s.device << "\nsummary: " << s.summary_json << "\n";
  std::string shape;
  for (const auto& r : records) {
    if (r.spec_family + r.shape_json != shape) {
      shape = r.spec_family + r.shape_json;
      std::cout << "\n" << r.spec_family << " " << r.shape_json << "\n";
    }
    std::cout << "  " << std::left << std::setw(11) << r.status << std::right;
    if (r.status == cache::kTuningMeasured || r.status == cache::kTuningWinner ||
        (r.status == cache::kTuningReference && r.time_us > 0))
      std::cout << std::fixed << std::setprecision(2) << std::setw(10) << r.time_us << " us ±" << std::setw(6)
                << r.spread_us << "  " << std::setw(7) << r.throughput << " " << r.throughput_unit << "  ";
    std::cout << r.config_json << (r.baseline ? "  [heuristic]" : "");
    if (!r.reason.empty()) std::cout << "  " << r.reason;
    std::cout << "\n";
  }
}

void cmd_report(const RecordArgs& a) {
  auto store = open_cache(cache_path(a.path()), CacheAccess::existing);
  find_session(*store, a.id);
  const auto records = tuning::session_records(*store, a.id);
  if (!a.svg.empty()) {
    std::ofstream out(a.svg);
    out << tuning::report_svg(a.id, records);
    if (!out) fail(Errc::io, "tune report: cannot write " + a.svg);
  }
  const std::string json = tuning::report_json(a.id, records);
  if (a.json) {
    std::cout << json << "\n";
    return;
  }
  for (const auto& s : nlohmann::json::parse(json)["shapes"]) {
    std::cout << s["op"].get<std::string>() << " " << s["shape"].dump() << ": " << s["candidates"].size()
              << " candidates; ";
    if (s["winner"].is_null())
      std::cout << "no decision\n";
    else if (s["winner"]["is_baseline"].get<bool>())
      std::cout << "the heuristic's pick stays\n";
    else
      std::cout << "winner " << std::fixed << std::setprecision(3) << s["winner"]["speedup"].get<double>()
                << "x over the heuristic\n";
  }
  if (!a.svg.empty()) std::cout << "wrote " << a.svg << "\n";
}

}  // namespace

void add_tune_record_commands(CLI::App& tune, std::string& parent_cache) {
  auto make = [&](const char* name, const char* help) {
    auto a = std::make_shared<RecordArgs>();
    a->parent_cache = &parent_cache;
    auto* cmd = tune.add_subcommand(name, help);
    cmd->add_option("--cache", a->cache, "cache database (default: $XDG_CACHE_HOME/shapejit/kernels.db)");
    cmd->add_flag("--json", a->json, "machine-readable output");
    return std::make_pair(a, cmd);
  };
  auto [ls_args, ls] = make("ls", "List tuning sessions");
  ls->callback([a = ls_args] { cmd_ls(*a); });
  auto [show_args, show] = make("show", "Every record of a session");
  show->add_option("id", show_args->id, "session id")->required();
  show->callback([a = show_args] { cmd_show(*a); });
  auto [report_args, report] = make("report", "Per shape: measured candidates, baseline, winner, speed-up");
  report->add_option("id", report_args->id, "session id")->required();
  report->add_option("--svg", report_args->svg, "write an SVG chart here");
  report->callback([a = report_args] { cmd_report(*a); });
}

}  // namespace shapejit::cli
