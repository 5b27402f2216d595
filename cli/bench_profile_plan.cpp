#include "bench_profile_plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"

namespace shapejit::cli {

namespace fs = std::filesystem;

nlohmann::json read_base_profile(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(Errc::invalid_argument, "base profile " + path + ": no such file");
  if (!fs::is_regular_file(path, ec))
    fail(Errc::invalid_argument, "base profile " + path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) fail(Errc::invalid_argument, "base profile " + path + ": cannot be read");
  // The chooser's own parser: what it accepts here it accepts in the written profile too
  // (whose measured ops only swap one valid time model for another). Messages start with path.
  planner::parse_cost_profile(text.str(), path);
  return nlohmann::json::parse(text.str());
}

void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      fail(Errc::io, "cannot write " + path + " (through " + tmp + ")");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    fail(Errc::io, "cannot write " + path + ": " + ec.message());
  }
}

void check_output_folder(const std::string& option, const std::string& path) {
  if (path.empty()) fail(Errc::invalid_argument, option + ": empty file name");
  std::error_code ec;
  if (fs::is_directory(path, ec))
    fail(Errc::invalid_argument, option + " " + path + ": is a folder, not a file");
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (!fs::is_directory(folder, ec))
    fail(Errc::invalid_argument, option + " " + path + ": folder " + folder.string() + " does not exist");
}

std::vector<int> profile_token_counts(int t) {
  std::vector<int> v;
  for (long long n : {static_cast<long long>(t) / 4, static_cast<long long>(t) / 2,
                      static_cast<long long>(t), 2LL * t}) {
    const int c = static_cast<int>(std::max(1LL, n));
    if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
  }
  std::sort(v.begin(), v.end());
  return v;
}

namespace {

std::string moe_how() {
  return "grouped FP8 GEMMs + SwiGLU (gate-up N=" + std::to_string(2 * Dsv3::moe_intermediate) +
         " K=" + std::to_string(Dsv3::hidden) + ", SwiGLU + FP8 quantization, down N=" +
         std::to_string(Dsv3::hidden) + " K=" + std::to_string(Dsv3::moe_intermediate) + "), " +
         std::to_string(Dsv3::local_experts) + " local experts, top-" +
         std::to_string(Dsv3::top_k) +
         " of them per token (every routed entry local, as EP8 with balanced load), uniform "
         "routing, contiguous layout, all SMs; routing, dispatch and combine kernels not "
         "included";
}

std::string shared_how() {
  const std::string h = std::to_string(Dsv3::hidden), i = std::to_string(Dsv3::moe_intermediate),
                    i2 = std::to_string(2 * Dsv3::moe_intermediate);
  return "FP8 GEMM gate-up [T x " + h + "] x [" + i2 + " x " + h +
         "]^T, the MoE SwiGLU + FP8 quantization kernel, FP8 GEMM down [T x " + i + "] x [" + h +
         " x " + i + "]^T, all SMs; quantization of the input activations not included";
}

std::string attention_how(int context) {
  return "MLA decode core (batch = tokens, h_q " + std::to_string(Dsv3::heads) + ", s_q 1, page " +
         std::to_string(Dsv3::page_size) + ", BF16 KV, every request at context " +
         std::to_string(context) + ") + 3 FP8 projection GEMMs (q_a+kv_a N=" +
         std::to_string(Dsv3::qkv_a_n) + " K=" + std::to_string(Dsv3::hidden) + ", q_b N=" +
         std::to_string(Dsv3::q_b_n) + " K=" + std::to_string(Dsv3::q_lora_rank) +
         ", o_proj N=" + std::to_string(Dsv3::hidden) + " K=" + std::to_string(Dsv3::o_proj_k) +
         "), all SMs; kv_b absorption, RMSNorms, RoPE, activation quantization, KV-cache append "
         "and the scheduler metadata (once per step) not included";
}

}  // namespace

ProfilePlan plan_profile(const nlohmann::json& base, const std::string& base_path, int context,
                         const std::vector<EpCommRun>& comm) {
  if (context < 1 || context > (1 << 20))
    fail(Errc::invalid_argument,
         "--context " + std::to_string(context) + ": must be in [1, 1048576] tokens");
  if (!base.is_object() || !base.contains("phases") || !base["phases"].is_object())
    fail(Errc::invalid_argument, base_path + ": not a cost profile (no \"phases\" object)");
  const nlohmann::json& phases = base["phases"];
  // The chooser's order: prefill, decode, then any other phase by name.
  std::vector<std::string> names;
  for (const char* known : {"prefill", "decode"})
    if (phases.contains(known)) names.push_back(known);
  for (const auto& [name, unused] : phases.items())
    if (name != "prefill" && name != "decode") names.push_back(name);

  ProfilePlan plan;
  std::vector<const EpCommRun*> comm_of(names.size(), nullptr);
  for (const EpCommRun& run : comm) {
    const std::string phase = ep_comm_phase(run);
    const auto at = std::find(names.begin(), names.end(), phase);
    if (at == names.end())
      fail(Errc::invalid_argument, "--comm " + run.origin + " measures phase '" + phase + "', which " + base_path +
                                       " does not have");
    const std::size_t i = static_cast<std::size_t>(at - names.begin());
    if (comm_of[i])
      fail(Errc::invalid_argument, "--comm " + comm_of[i]->origin + " and " + run.origin + " both measure phase '" +
                                       phase + "'");
    comm_of[i] = &run;
  }
  for (const std::string& phase : names) {
    const nlohmann::json& ph = phases[phase];
    const std::string at = base_path + ": phases." + phase;
    if (!ph.is_object() || !ph.contains("tokens") || !ph["tokens"].is_number_integer() ||
        ph["tokens"].get<long long>() < 1)
      fail(Errc::invalid_argument, at + ".tokens: must be a positive integer");
    if (!ph.contains("ops") || !ph["ops"].is_object())
      fail(Errc::invalid_argument, at + ": missing field \"ops\"");
    const long long tokens = ph["tokens"].get<long long>();
    if (tokens > kMaxProfilePhaseTokens)
      fail(Errc::invalid_argument, at + ".tokens = " + std::to_string(tokens) +
                                       ": bench profile measures up to twice a phase's tokens "
                                       "and takes tokens <= " +
                                       std::to_string(kMaxProfilePhaseTokens));
    const std::vector<int> counts = profile_token_counts(static_cast<int>(tokens));
    for (const char* op : {"attention", "moe_gemm", "shared_expert", "dispatch", "combine"})
      if (!ph["ops"].contains(op))
        fail(Errc::invalid_argument, at + ".ops: missing field \"" + std::string(op) + "\"");

    if (phase == "decode") {
      const double cache = static_cast<double>(counts.back()) * context * 1152.0;
      if (cache > kMaxMlaCacheBytes) {
        char gib[32];
        std::snprintf(gib, sizeof gib, "%.1f", cache / (1u << 30));
        fail(Errc::invalid_argument,
             "--context " + std::to_string(context) + " with " + at + ".tokens = " +
                 std::to_string(tokens) + ": the BF16 KV cache of " +
                 std::to_string(counts.back()) + " requests would take " + gib +
                 " GiB (at most 16); lower --context");
      }
      plan.measure.push_back(
          {phase, "attention", ProfileKernel::mla_decode_attention, counts, attention_how(context)});
    } else {
      plan.carried.push_back(
          {phase, "attention",
           phase == "prefill" ? "shapejit has no prefill attention kernel"
                              : "attention is measured only in the decode phase (MLA decode)"});
    }
    plan.measure.push_back({phase, "moe_gemm", ProfileKernel::moe_experts, counts, moe_how()});
    plan.measure.push_back(
        {phase, "shared_expert", ProfileKernel::shared_expert, counts, shared_how()});
    if (const EpCommRun* run = comm_of[std::size_t(&phase - names.data())]) {
      for (planner::MeasuredComm& fit : fit_ep_comm(*run)) {
        PlannedComm c{std::move(fit), {}};
        for (const EpCommPoint& p : run->points)
          c.points.emplace_back(p.tokens, c.fit.op == "dispatch" ? p.dispatch_us : p.combine_us);
        plan.comm.push_back(std::move(c));
      }
    } else {
      for (const char* op : {"dispatch", "combine"})
        plan.carried.push_back({phase, op,
                                "no measured communication given (pass `shapejit bench ep --json --sweep --phase " +
                                    phase + "` output, run on the EP ranks, with --comm FILE)"});
    }
  }
  return plan;
}

double OpMeasurement::total_us() const {
  double s = 0;
  for (const auto& p : pieces) s += p.us;
  return s;
}

namespace {

void check_results(const ProfilePlan& plan, const std::vector<std::vector<OpMeasurement>>& results) {
  if (results.size() != plan.measure.size())
    fail(Errc::invalid_argument, "bench profile: " + std::to_string(results.size()) +
                                     " measured ops for " + std::to_string(plan.measure.size()) +
                                     " planned");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const PlannedOp& p = plan.measure[i];
    const std::string where = "phases." + p.phase + ".ops." + p.op;
    if (results[i].size() != p.tokens.size())
      fail(Errc::invalid_argument, where + ": " + std::to_string(results[i].size()) +
                                       " measurements for " + std::to_string(p.tokens.size()) +
                                       " token counts");
    for (std::size_t j = 0; j < p.tokens.size(); ++j) {
      const OpMeasurement& m = results[i][j];
      if (m.tokens != p.tokens[j])
        fail(Errc::invalid_argument, where + ": measured at " + std::to_string(m.tokens) +
                                         " tokens, planned " + std::to_string(p.tokens[j]));
      if (m.pieces.empty()) fail(Errc::invalid_argument, where + ": nothing timed");
      for (const TimedPiece& piece : m.pieces)
        if (!std::isfinite(piece.us) || piece.us < 0)
          fail(Errc::invalid_argument, where + ": " + piece.name + " at " +
                                           std::to_string(m.tokens) + " tokens has no valid time");
    }
  }
}

}  // namespace

nlohmann::json assemble_profile(const nlohmann::json& base, const std::string& base_path,
                                const ProfilePlan& plan,
                                const std::vector<std::vector<OpMeasurement>>& results,
                                const std::string& device, int sms, const std::string& command) {
  check_results(plan, results);
  std::vector<planner::MeasuredOp> measured;
  for (std::size_t i = 0; i < results.size(); ++i) {
    planner::MeasuredOp m{plan.measure[i].phase, plan.measure[i].op, {}, plan.measure[i].how};
    for (const OpMeasurement& r : results[i]) m.points.emplace_back(r.tokens, r.total_us());
    measured.push_back(std::move(m));
  }
  std::vector<planner::MeasuredComm> comm;
  for (const PlannedComm& c : plan.comm) comm.push_back(c.fit);
  return planner::measured_cost_profile(base, base_path, device, sms, measured, command,
                                        plan.carried, comm);
}

nlohmann::ordered_json profile_report(const ProfilePlan& plan,
                                      const std::vector<std::vector<OpMeasurement>>& results,
                                      const std::string& device, int sms, const std::string& out,
                                      const std::string& base_path, int context) {
  using ojson = nlohmann::ordered_json;
  check_results(plan, results);
  ojson phases = ojson::object();
  auto phase_entry = [&](const std::string& name) -> ojson& {
    if (!phases.contains(name))
      phases[name] = {{"measured", ojson::object()}, {"carried", ojson::object()}};
    return phases[name];
  };
  for (std::size_t i = 0; i < results.size(); ++i) {
    const PlannedOp& p = plan.measure[i];
    ojson points = ojson::array(), pieces = ojson::array();
    for (const OpMeasurement& m : results[i]) {
      points.push_back({m.tokens, m.total_us()});
      ojson row = {{"tokens", m.tokens}};
      for (const TimedPiece& piece : m.pieces) row[piece.name + "_us"] = piece.us;
      pieces.push_back(row);
    }
    phase_entry(p.phase)["measured"][p.op] = {{"points", points}, {"pieces", pieces}, {"how", p.how}};
  }
  for (const PlannedComm& c : plan.comm) {
    ojson points = ojson::array(), pieces = ojson::array();
    for (const auto& [tokens, us] : c.points) {
      points.push_back({tokens, us});
      pieces.push_back({{"tokens", tokens}, {c.fit.op + "_us", us}});
    }
    phase_entry(c.fit.phase)["measured"][c.fit.op] = {
        {"points", points}, {"pieces", pieces}, {"how", c.fit.how},
        {"model", {{"fixed_us", c.fit.cost.fixed_us}, {"bytes_per_token", c.fit.cost.bytes_per_token},
                   {"max_gbps", c.fit.cost.max_gbps}, {"gbps_per_sm", c.fit.cost.gbps_per_sm}}}};
  }
  for (const planner::CarriedOp& c : plan.carried) phase_entry(c.phase)["carried"][c.op] = c.why;
  return {{"device", device}, {"sms", sms},   {"out", out},
          {"base", base_path}, {"context", context}, {"phases", phases}};
}

void print_profile_table(std::ostream& os, const nlohmann::ordered_json& report) {
  char line[512];
  std::snprintf(line, sizeof line, "shapejit bench profile on %s (%d SMs): base %s, MLA context %d\n\n",
                report["device"].get<std::string>().c_str(), report["sms"].get<int>(),
                report["base"].get<std::string>().c_str(), report["context"].get<int>());
  os << line;
  std::snprintf(line, sizeof line, "%-8s %-14s %7s %11s  %s\n", "phase", "op", "tokens", "total us",
                "pieces (us)");
  os << line;
  for (const auto& [phase, ph] : report["phases"].items())
    for (const auto& [op, m] : ph["measured"].items())
      for (const auto& row : m["pieces"]) {
        std::string pieces;
        double total = 0;
        for (const auto& [key, value] : row.items()) {
          if (key == "tokens") continue;
          char piece[96];
          std::snprintf(piece, sizeof piece, "%s%s %.1f", pieces.empty() ? "" : ", ",
                        key.substr(0, key.size() - 3).c_str(), value.get<double>());
          pieces += piece;
          total += value.get<double>();
        }
        std::snprintf(line, sizeof line, "%-8s %-14s %7d %11.1f  ", phase.c_str(), op.c_str(),
                      row["tokens"].get<int>(), total);
        os << line << pieces << "\n";
      }
  os << "\nCarried from the base profile:\n";
  for (const auto& [phase, ph] : report["phases"].items())
    for (const auto& [op, why] : ph["carried"].items())
      os << "  " << phase << "." << op << ": " << why.get<std::string>() << "\n";
  os << "\nWhat each measured op includes:\n";
  for (const auto& [phase, ph] : report["phases"].items())
    for (const auto& [op, m] : ph["measured"].items())
      os << "  " << phase << "." << op << ": " << m["how"].get<std::string>() << "\n";
  os << "\nwrote " << report["out"].get<std::string>() << "\n";
}

}  // namespace shapejit::cli
