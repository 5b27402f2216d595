// `shapejit plan eplb | pipeline | overlap`: expert placement, pipeline schedules with their
// simulation, and the compute/communication overlap choice. Bad input exits 2.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/eplb.hpp"
#include "shapejit/planner/eplb_io.hpp"
#include "shapejit/planner/overlap.hpp"
#include "shapejit/planner/overlap_schedule.hpp"
#include "shapejit/planner/pipeline.hpp"
#include "shapejit/planner/pipeline_simulator.hpp"
#include "shapejit/planner/timeline.hpp"

namespace shapejit::cli {
namespace {

namespace pl = shapejit::planner;
using nlohmann::json;

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Errc::invalid_argument, std::string("cannot open ") + what + " file '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json stats_json(const pl::LoadStats& s) { return {{"max", s.max}, {"mean", s.mean}, {"max_over_mean", s.balance()}}; }

// ---- eplb -------------------------------------------------------------------------------
struct EplbArgs {
  std::string loads, current, policy = "auto";
  int slots = 0, groups = 0, nodes = 0, gpus = 0;
  bool refine = false, json = false;
  double move_cost = 1.0;
};

void run_eplb(const EplbArgs& a) {
  const pl::ExpertLoads loads = pl::parse_loads(read_file(a.loads, "loads"), a.loads);
  const pl::EplbTopology topo{a.slots, a.groups, a.nodes, a.gpus};
  const pl::EplbPolicy policy = pl::parse_eplb_policy(a.policy);
  pl::Placement placement;
  pl::EplbReport report;
  pl::MigrationReport migration;
  const bool migrate = !a.current.empty();
  const auto t0 = std::chrono::steady_clock::now();
  if (migrate) {
    pl::Placement current = pl::placement_from_json([&] {
      try {
        return json::parse(read_file(a.current, "current placement"));
      } catch (const json::exception& e) {
        fail(Errc::invalid_argument, a.current + ": not valid JSON: " + e.what());
      }
    }());
    if (current.topology.slots != topo.slots || current.topology.gpus != topo.gpus ||
        current.topology.nodes != topo.nodes)
      fail(Errc::invalid_argument, a.current + ": its slots/nodes/GPUs differ from --slots/--nodes/--gpus");
    current.topology.groups = topo.groups;
    placement = pl::rebalance_with_migration(current, loads, {a.move_cost, policy}, &migration);
  } else {
    placement = pl::plan_eplb(loads, topo, {policy, a.refine}, &report);
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  std::vector<std::vector<double>> per_gpu;
  for (int l = 0; l < loads.layers; ++l) per_gpu.push_back(pl::gpu_loads(placement, loads, l));
  if (a.json) {
    json j = pl::placement_to_json(placement);
    j["gpu_loads"] = per_gpu;
    j["elapsed_ms"] = ms;
    json layers = json::array();
    for (int l = 0; l < loads.layers; ++l) {
      json row{{"layer", l}, {"final", stats_json(pl::load_stats(per_gpu[l]))}};
      if (migrate) {
        const auto& m = migration.layers[l];
        row["current"] = stats_json(m.current);
        row["fresh"] = stats_json(m.fresh);
        row["fresh_moved"] = m.fresh_moved;
        row["moved"] = m.moved;
        row["cost"] = m.cost;
        row["choice"] = m.choice;
      } else {
        row["greedy"] = stats_json(report.greedy[l]);
        row["refine_moves"] = report.refine_moves[l];
      }
      layers.push_back(row);
    }
    j["layer_stats"] = layers;
    j["refined"] = a.refine;
    if (migrate) {
      j["move_cost"] = a.move_cost;
      j["total_moved"] = migration.total_moved;
    }
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("policy %s: %d layers, %d experts, %d slots (%d per GPU), %d groups, %d nodes x %d GPUs; %.3f ms\n",
              pl::to_string(placement.policy), loads.layers, loads.experts, topo.slots, topo.slots_per_gpu(),
              topo.groups, topo.nodes, topo.gpus_per_node(), ms);
  if (migrate)
    std::printf("migration: move cost %g load units per copied expert; %d expert copies in total\n", a.move_cost,
                migration.total_moved);
  for (int l = 0; l < loads.layers; ++l) {
    const pl::LoadStats fin = pl::load_stats(per_gpu[l]);
    if (migrate) {
      const auto& m = migration.layers[l];
      std::printf("layer %d: %s, max/mean %.4f (current %.4f, fresh %.4f with %d copies), %d copies, cost %.6g\n", l,
                  m.choice.c_str(), fin.balance(), m.current.balance(), m.fresh.balance(), m.fresh_moved, m.moved,
                  m.cost);
    } else if (a.refine) {
      std::printf("layer %d: max %.6g mean %.6g max/mean %.4f (greedy %.4f, %d refinement moves)\n", l, fin.max,
                  fin.mean, fin.balance(), report.greedy[l].balance(), report.refine_moves[l]);
    } else {
      std::printf("layer %d: max %.6g mean %.6g max/mean %.4f\n", l, fin.max, fin.mean, fin.balance());
    }
    std::printf("  phy2log:");
    for (int p = 0; p < topo.slots; ++p)
      std::printf("%s%d", p % topo.slots_per_gpu() == 0 && p ? " | " : " ", placement.layers[l].phy2log[p]);
    std::printf("\n");
  }
}

// ---- pipeline ---------------------------------------------------------------------------
struct PipelineArgs {
  std::string schedule = "dualpipe", costs, svg;
  int ranks = 0, micro_batches = 0, width = 96;
  bool json = false;
};

// NOTES: what each output writes per chunk (a stage of a micro-batch), measured with 16 ranks and
// 1000 micro-batches and rounded up over the four schedules (ZB1P, three passes a chunk, writes
// the most); the text timeline also writes a row of --width columns per rank.
constexpr double kJsonBytesPerChunk = 1000, kSvgBytesPerChunk = 520, kTextBytesPerChunk = 16;
constexpr double kOutputBudgetBytes = 256.0 * 1024 * 1024;

// Refuses, before anything is built, a request whose output would not fit the budget.
void check_pipeline_output(const PipelineArgs& a, pl::ScheduleKind kind) {
  if (a.ranks < 1 || a.micro_batches < 1) return;   // make_schedule says what is wrong
  const double chunks = double(pl::schedule_chunks(kind, a.ranks, a.micro_batches));
  auto refuse = [&](const char* what, double bytes) {
    char size[64];
    std::snprintf(size, sizeof size, "%.0f MiB", bytes / (1024 * 1024));
    fail(Errc::invalid_argument, std::string(what) + " for " + std::to_string(a.ranks) + " ranks and " +
                                     std::to_string(a.micro_batches) + " micro-batches would be about " + size +
                                     " (at most " + std::to_string(int(kOutputBudgetBytes / (1024 * 1024))) +
                                     " MiB); use fewer ranks or micro-batches");
  };
  if (a.json && chunks * kJsonBytesPerChunk > kOutputBudgetBytes) refuse("the --json output", chunks * kJsonBytesPerChunk);
  if (!a.svg.empty() && chunks * kSvgBytesPerChunk > kOutputBudgetBytes)
    refuse("the SVG timeline", chunks * kSvgBytesPerChunk);
  const double text = chunks * kTextBytesPerChunk + double(a.ranks) * (a.width + 64);
  if (!a.json && text > kOutputBudgetBytes) refuse("the text timeline", text);
}

void run_pipeline(const PipelineArgs& a) {
  const pl::ScheduleKind kind = pl::parse_schedule_kind(a.schedule);
  const pl::PassCosts costs = a.costs.empty() ? pl::PassCosts{} : pl::parse_pass_costs(read_file(a.costs, "costs"), a.costs);
  check_pipeline_output(a, kind);
  const pl::Schedule s = pl::make_schedule(kind, a.ranks, a.micro_batches);
  pl::check_schedule(s);
  const pl::SimulationResult res = pl::simulate(s, costs);
  const pl::PublishedFigures table = pl::published_figures(kind, s.stages, costs);
  if (!a.svg.empty()) {
    std::ofstream out(a.svg, std::ios::binary);
    out << pl::timeline_svg(s, res);
    if (!out) fail(Errc::io, "cannot write the SVG timeline to '" + a.svg + "'");
  }
  if (a.json) {
    json ranks = json::array();
    for (int r = 0; r < s.ranks; ++r) {
      json ops = json::array();
      for (size_t i = 0; i < s.ops[r].size(); ++i) {
        const pl::PipelineOp& op = s.ops[r][i];
        json passes = json::array();
        for (int k = 0; k < op.passes; ++k) {
          const pl::Pass& p = op.pass[k];
          passes.push_back({{"kind", std::string(1, char(p.kind))},
                            {"stage", p.stage},
                            {"micro_batch", p.micro_batch},
                            {"recv_from", p.recv_from},
                            {"send_to", p.send_to}});
        }
        ops.push_back({{"op", pl::op_label(op)},
                       {"passes", passes},
                       {"start", res.timing[r][i].start},
                       {"end", res.timing[r][i].end}});
      }
      const auto& rr = res.ranks[r];
      ranks.push_back({{"rank", r},
                       {"busy", rr.busy},
                       {"bubble", rr.bubble},
                       {"peak_activations", rr.peak_activations},
                       {"parameter_copies", rr.parameter_copies},
                       {"ops", ops}});
    }
    json j{{"schedule", pl::to_string(kind)},
           {"ranks", s.ranks},
           {"stages", s.stages},
           {"micro_batches", s.micro_batches},
           {"costs",
            {{"F", costs.forward}, {"B", costs.backward}, {"W", costs.weight}, {"FB", costs.overlapped()}, {"p2p", costs.p2p}}},
           {"makespan", res.makespan},
           {"max_bubble", res.max_bubble()},
           {"max_peak_activations", res.max_peak_activations()},
           {"max_parameter_copies", res.max_parameter_copies()},
           {"published",
            {{"bubble", table.bubble},
             {"bubble_formula", table.bubble_formula},
             {"parameters", table.parameters},
             {"activations", table.activations},
             {"devices", table.devices}}},
           {"per_rank", ranks}};
    if (!a.svg.empty()) j["svg"] = a.svg;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << pl::timeline_text(s, res, a.width);
  std::printf("costs: F %g, B %g, W %g, F&B %g, p2p %g\n", costs.forward, costs.backward, costs.weight,
              costs.overlapped(), costs.p2p);
  std::printf("%-22s %12s %12s\n", "", "simulated", "published");
  std::printf("%-22s %12.4g %12.4g   %s\n", "bubble (worst rank)", res.max_bubble(), table.bubble,
              table.bubble_formula.c_str());
  std::printf("%-22s %12d %12d\n", "parameters (x stage)", res.max_parameter_copies(), table.parameters);
  std::printf("%-22s %12d %12d\n", "activations (peak)", res.max_peak_activations(), table.activations);
  std::printf("%-22s %12d %12d\n", "devices", s.ranks, table.devices);
  std::printf("makespan %.6g\n", res.makespan);
  if (!a.svg.empty()) std::printf("timeline written to %s\n", a.svg.c_str());
}

// ---- overlap ----------------------------------------------------------------------------
json candidate_json(const pl::OverlapCandidate& c) {
  return {{"split", c.split},
          {"micro_batch_tokens", c.split ? json{c.tokens[0], c.tokens[1]} : json{c.tokens[0]}},
          {"comm_sms", c.comm_sms},
          {"layer_us", c.layer_us},
          {"step_us", c.step_us},
          {"tokens_per_s", c.tokens_per_s},
          {"compute_us_per_layer", c.compute_us},
          {"comm_us_per_layer", c.comm_us}};
}

struct OverlapArgs {
  std::string profile, svg, phase;
  bool json = false;
  int layers = 1;
};

// --svg: the chosen plan of one phase (--phase, default the first) as the event graph the runtime
// issues, two rows per micro-batch.
void write_overlap_svg(const OverlapArgs& a, const pl::CostProfile& profile,
                       const std::vector<pl::OverlapChoice>& choices) {
  for (size_t i = 0; i < choices.size(); ++i) {
    if (!a.phase.empty() && choices[i].phase != a.phase) continue;
    const auto schedule = pl::build_overlap_schedule(profile.phases[i], profile.sms, choices[i].best, a.layers);
    pl::check_overlap_schedule(schedule);
    std::ofstream out(a.svg, std::ios::binary);
    out << pl::overlap_schedule_svg(schedule);
    if (!out) fail(Errc::io, "cannot write the overlap SVG to '" + a.svg + "'");
    return;
  }
  fail(Errc::invalid_argument, "plan overlap: the profile has no phase '" + a.phase + "'");
}

void run_overlap(const OverlapArgs& args) {
  const std::string& path = args.profile;
  const bool as_json = args.json;
  const pl::CostProfile profile = pl::parse_cost_profile(read_file(path, "cost profile"), path);
  const auto choices = pl::choose_overlap(profile);
  if (!args.svg.empty()) write_overlap_svg(args, profile, choices);
  if (as_json) {
    json phases = json::object();
    for (const auto& c : choices)
      phases[c.phase] = {{"choice", candidate_json(c.best)},
                         {"best_unsplit", candidate_json(c.best_unsplit)},
                         {"best_even_split", candidate_json(c.best_even_split)},
                         {"candidates_evaluated", c.evaluated.size()},
                         {"reasoning", c.reasoning}};
    std::cout << json{{"profile", path}, {"source", profile.source}, {"device", profile.device}, {"sms", profile.sms},
                      {"phases", phases}}
                     .dump(2)
              << "\n";
    return;
  }
  std::printf("profile %s (%s, %d SMs)\n", path.c_str(), profile.device.c_str(), profile.sms);
  if (!profile.source.empty()) std::printf("source: %s\n", profile.source.c_str());
  for (const auto& c : choices) {
    std::printf("\n[%s] %s, %d SMs for communication: step %.1f us, %.0f tokens/s per GPU\n", c.phase.c_str(),
                c.best.split ? ("split " + std::to_string(c.best.tokens[0]) + " + " + std::to_string(c.best.tokens[1]))
                                   .c_str()
                             : "no split",
                c.best.comm_sms, c.best.step_us, c.best.tokens_per_s);
    for (const auto& line : c.reasoning) std::printf("  %s\n", line.c_str());
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto* plan = app.add_subcommand("plan", "Plan expert placement, pipeline schedules and overlap");
  plan->require_subcommand(1);

  auto e = std::make_shared<EplbArgs>();
  auto* eplb = plan->add_subcommand("eplb", "Place experts into slots and GPUs (EPLB policies, refinement, migration)");
  eplb->add_option("--loads", e->loads, "Per-layer expert loads: JSON [[...]] or text rows")->required()->check(CLI::ExistingFile);
  eplb->add_option("--slots", e->slots, "Physical expert slots in total")->required();
  eplb->add_option("--groups", e->groups, "Expert groups")->required();
  eplb->add_option("--nodes", e->nodes, "Nodes")->required();
  eplb->add_option("--gpus", e->gpus, "GPUs in total")->required();
  eplb->add_option("--policy", e->policy, "auto | hierarchical | global")->check(CLI::IsMember({"auto", "hierarchical", "global"}));
  eplb->add_flag("--refine", e->refine, "Lower the heaviest GPU further with a local search");
  eplb->add_option("--current", e->current, "Current placement (JSON from --json): rebalance against it")->check(CLI::ExistingFile);
  eplb->add_option("--move-cost", e->move_cost, "With --current: load units one copied expert costs (default 1)");
  eplb->add_flag("--json", e->json, "Machine-readable output");
  eplb->callback([e] { run_eplb(*e); });

  auto p = std::make_shared<PipelineArgs>();
  auto* pipe = plan->add_subcommand("pipeline", "Generate and simulate a pipeline schedule");
  pipe->add_option("--schedule", p->schedule, "1f1b | zb1p | dualpipe | dualpipev")->required();
  pipe->add_option("--ranks", p->ranks, "Pipeline ranks (devices)")->required();
  pipe->add_option("--micro-batches", p->micro_batches, "Micro-batches per step")->required();
  pipe->add_option("--costs", p->costs, "JSON {\"F\",\"B\",\"W\",\"FB\",\"p2p\"} per-chunk costs")->check(CLI::ExistingFile);
  pipe->add_option("--svg", p->svg, "Write the timeline as SVG to this file");
  pipe->add_option("--width", p->width, "Columns of the text timeline, 8 to 10000 (default 96)")
      ->check(CLI::Range(8, 10000));
  pipe->add_flag("--json", p->json, "Machine-readable output");
  pipe->callback([p] { run_pipeline(*p); });

  auto o = std::make_shared<OverlapArgs>();
  auto* overlap = plan->add_subcommand("overlap", "Choose micro-batch split and communication SMs from a cost profile");
  overlap->add_option("--profile", o->profile, "Cost profile JSON")->required()->check(CLI::ExistingFile);
  overlap->add_flag("--json", o->json, "Machine-readable output");
  overlap->add_option("--svg", o->svg, "Draw the chosen plan (compute and communication rows per micro-batch) to this SVG file");
  overlap->add_option("--phase", o->phase, "With --svg: the phase to draw (default: the first)");
  overlap->add_option("--layers", o->layers, "With --svg: MoE layers to draw, 1 to 64 (default 1)")->check(CLI::Range(1, 64));
  overlap->callback([o] { run_overlap(*o); });
}

}  // namespace shapejit::cli
