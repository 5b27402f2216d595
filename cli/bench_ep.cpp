// `shapejit bench ep`: expert-parallel dispatch and combine over NCCL, per rank: latency and
// bandwidth in DeepEP's terms (dispatch: FP8 rows + scales received per second; combine: BF16
// rows sent back per second). Run it under a launcher (SHAPEJIT_EP_RANK/WORLD_SIZE/ID_FILE, or
// RANK/WORLD_SIZE) for N ranks, or alone as a group of one. With --write-profile, rank 0 fits the
// measured points (t/4, t/2, t, 2t tokens) to the cost profile's communication model and
// rewrites that phase's dispatch and combine in the profile file. With --overlap, it runs the
// overlap plan of --profile's --phase (the plan of `plan overlap --json` given by --plan, else the
// chooser's) through EpOverlapLayer — two micro-batches, one's dispatch/combine under the other's
// expert GEMMs — and draws the measured run with --svg in the style of `plan overlap --svg`.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "bench_moe_stages.hpp"
#include "bench_profile_plan.hpp"
#include "commands.hpp"
#include "ep_comm_measurement.hpp"
#include "shapejit/comm/bootstrap.hpp"
#include "shapejit/comm/ep_exchange.hpp"
#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/ep_overlap_layer.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/comm_cost_fit.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/overlap.hpp"
#include "shapejit/planner/overlap_schedule.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/stream.hpp"

namespace shapejit::cli {
namespace {

using runtime::DeviceBuffer;

struct EpBenchOptions {
  int tokens = 4096, hidden = 7168, top_k = 8, experts = 256, comm_sms = 24, iters = 20, capacity = 0;
  std::string mode = "normal", write_profile, phase;
  bool json = false, sweep = false;
  // --overlap
  bool overlap = false;
  std::string profile, plan, svg;
};

// The overlap plan of one layer that --overlap runs: built and checked on the host, before any
// GPU work, so a bad profile, phase or plan is exit 2 anywhere.
planner::OverlapSchedule overlap_plan(const EpBenchOptions& o) {
  if (o.profile.empty()) fail(Errc::invalid_argument, "bench ep --overlap needs --profile (a cost profile)");
  const planner::CostProfile profile = planner::read_cost_profile(o.profile);
  const planner::PhaseProfile* phase = nullptr;
  for (const auto& p : profile.phases)
    if (o.phase.empty() ? phase == nullptr : p.name == o.phase) phase = &p;
  if (!phase) fail(Errc::invalid_argument, "bench ep --overlap: " + o.profile + " has no phase '" + o.phase + "'");
  planner::OverlapCandidate chosen;
  if (!o.plan.empty()) {
    std::ifstream in(o.plan, std::ios::binary);
    if (!in) fail(Errc::invalid_argument, "bench ep --overlap: cannot read --plan " + o.plan);
    std::stringstream text;
    text << in.rdbuf();
    chosen = planner::parse_overlap_choice(text.str(), phase->name);
  } else {
    chosen = planner::choose_overlap(*phase, profile.sms).best;
  }
  planner::OverlapSchedule s = planner::build_overlap_schedule(*phase, profile.sms, chosen, 1);
  planner::check_overlap_schedule(s);
  return s;
}

// Runs the plan on this rank's GPU (warm-up, then one timed run) and returns the measured graph.
planner::OverlapSchedule run_overlap(comm::EpGroup& group, const EpBenchOptions& o, const planner::OverlapSchedule& plan) {
  const int T = plan.tokens[0] + (plan.micro_batches == 2 ? plan.tokens[1] : 0);
  comm::EpExchangeConfig c;
  c.hidden = o.hidden;
  c.intermediate = 2048;
  c.top_k = o.top_k;
  c.mode = o.mode == "low-latency" ? comm::EpMode::low_latency : comm::EpMode::normal;
  c.capacity = o.capacity > 0 ? o.capacity : std::max(64, (T * o.top_k * group.size() / o.experts + 63) / 64 * 64 * 2);
  const comm::EpPlacement placement = comm::EpPlacement::identity(o.experts, group.size());
  runtime::MoeConfig local;
  local.hidden = o.hidden;
  local.intermediate = c.intermediate;
  local.num_experts = placement.experts_per_rank;
  local.top_k = o.top_k;
  std::mt19937 rng(99 + group.rank());
  const MoeBenchWeights weights(local, rng);
  runtime::Runtime compute_rt;
  comm::EpOverlapLayer layer(group, placement, c, plan, weights.view(), compute_rt);
  const std::vector<int> idx = moe_bench_routing(T, o.top_k, o.experts, /*zipf=*/false, 7 + group.rank());
  DeviceBuffer dx(std::size_t(T) * o.hidden * 2), di(idx.size() * 4), dw(idx.size() * 4), dout(std::size_t(T) * o.hidden * 2);
  dx.upload(random_bf16(std::size_t(T) * o.hidden, rng));
  di.upload(idx);
  dw.upload(std::vector<float>(idx.size(), 1.0f / o.top_k));
  runtime::Stream s;
  for (int i = 0; i < 2; ++i) {   // the second run is timed: the first compiles and touches
    layer.set_timing(i == 1);
    layer.run(T, dx.ptr(), di.ptr(), dw.ptr(), dout.ptr(), s.get());
    group.synchronize(s.get(), "bench ep --overlap");
  }
  return layer.measured();
}


struct Point {
  int tokens = 0;
  double dispatch_us = 0, combine_us = 0, rows = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Point measure(comm::EpGroup& group, const EpBenchOptions& o, int tokens, unsigned seed) {
  const bool ll = o.mode == "low-latency";
  comm::EpExchangeConfig c;
  c.hidden = o.hidden;
  c.intermediate = 2048;
  c.top_k = o.top_k;
  c.max_tokens = tokens;
  c.mode = ll ? comm::EpMode::low_latency : comm::EpMode::normal;
  c.capacity = o.capacity > 0 ? o.capacity : std::max(64, (tokens * o.top_k * group.size() / o.experts + 63) / 64 * 64 * 2);
  const comm::EpPlacement placement = comm::EpPlacement::identity(o.experts, group.size());
  comm::EpExchange ex(group, placement, c);
  std::mt19937 rng(seed + group.rank());
  std::normal_distribution<float> n01;
  std::vector<std::uint16_t> x(std::size_t(tokens) * o.hidden);
  for (auto& v : x) v = runtime::float_to_bf16(n01(rng));
  std::vector<int> idx;
  std::vector<float> w;
  std::vector<int> all(o.experts);
  for (int e = 0; e < o.experts; ++e) all[e] = e;
  for (int t = 0; t < tokens; ++t) {
    std::shuffle(all.begin(), all.end(), rng);
    for (int j = 0; j < o.top_k; ++j) { idx.push_back(all[j]); w.push_back(1.0f / o.top_k); }
  }
  DeviceBuffer dx(x.size() * 2), di(idx.size() * 4), dw(w.size() * 4), dout(std::size_t(tokens) * o.hidden * 2);
  dx.upload(x); di.upload(idx); dw.upload(w);
  runtime::Stream s;
  runtime::Event a(true), b(true), k(true);
  std::vector<double> d_us, k_us;
  const auto& drv = runtime::driver();
  for (int i = 0; i < o.iters + 2; ++i) {
    a.record(s.get());
    if (ll) ex.dispatch_low_latency(tokens, dx.ptr(), di.ptr(), dw.ptr(), s.get());
    else ex.dispatch(tokens, dx.ptr(), di.ptr(), dw.ptr(), s.get());
    b.record(s.get());
    if (ll) ex.combine_low_latency(ex.workspace().y(), dout.ptr(), s.get());
    else ex.combine(ex.workspace().y(), dout.ptr(), s.get());
    k.record(s.get());
    group.synchronize(s.get(), "bench ep");
    SHAPEJIT_CU(drv.cuStreamSynchronize(s.get()));
    if (i < 2) continue;   // warm-up: compiles and first-touch
    d_us.push_back(1e3 * a.elapsed_ms_until(b));
    k_us.push_back(1e3 * b.elapsed_ms_until(k));
  }
  Point p;
  p.tokens = tokens;
  p.dispatch_us = median(d_us);
  p.combine_us = median(k_us);
  p.rows = ex.received_rows();
  return p;
}

void run_bench_ep(const EpBenchOptions& o) {
  // Host checks first: a bad argument, profile or plan is exit 2 whether or not there is a GPU.
  if (!o.write_profile.empty()) {
    if (o.phase.empty()) fail(Errc::invalid_argument, "bench ep: --write-profile needs --phase");
    if (o.overlap) fail(Errc::invalid_argument, "bench ep: --write-profile and --overlap measure different things");
    read_base_profile(o.write_profile);   // fails now, not after the measurement
  }
  if (!o.overlap && (!o.svg.empty() || !o.plan.empty() || !o.profile.empty()))
    fail(Errc::invalid_argument, "bench ep: --svg, --plan and --profile go with --overlap");
  planner::OverlapSchedule plan;
  if (o.overlap) {
    plan = overlap_plan(o);
    if (!o.svg.empty()) check_output_folder("--svg", o.svg);
  }
  std::string why;
  if (!runtime::driver_available(&why) || !comm::nccl_available(&why)) {
    std::cerr << "shapejit bench ep: needs a CUDA GPU and NCCL: " << why;
    if (!o.svg.empty()) std::cerr << " (" << o.svg << " not written)";
    std::cerr << "\n";
    throw ExitCode{kExitFailure};
  }
  comm::EpGroupOptions go;
  go.comm_sms = o.overlap ? std::max(1, plan.comm_sms) : o.comm_sms;
  auto env = comm::launch_env_from_environment();
  comm::EpGroup group = env ? comm::EpGroup::from_launcher(go)
                            : comm::EpGroup::create(0, 1, comm::new_unique_id(), go);
  if (o.overlap) {
    const planner::OverlapSchedule measured = run_overlap(group, o, plan);
    const auto& dev = runtime::current_device();
    std::printf("rank %d/%d on %s: %s, %d + %d tokens, compute on %d SMs, communication on %d SMs\n"
                "%-6s %-12s %22s %22s\n", group.rank(), group.size(), dev.name.c_str(), plan.phase.c_str(), plan.tokens[0],
                plan.tokens[1], plan.compute_sms, plan.comm_sms, "op", "kind", "planned us", "measured us");
    for (std::size_t i = 0; i < plan.ops.size(); ++i)
      std::printf("%-6s %-12s %10.1f..%-10.1f %10.1f..%-10.1f\n", plan.ops[i].label().c_str(),
                  planner::to_string(plan.ops[i].kind), plan.ops[i].start_us, plan.ops[i].end_us,
                  measured.ops[i].start_us, measured.ops[i].end_us);
    std::printf("makespan: planned %.1f us, measured %.1f us (ratio %.2f)\n", plan.makespan_us, measured.makespan_us,
                measured.makespan_us / std::max(1e-9, plan.makespan_us));
    if (!o.svg.empty() && group.rank() == 0) {
      write_file_atomically(o.svg, planner::overlap_schedule_svg(measured));
      std::printf("measured timeline written to %s (the plan: shapejit plan overlap --profile %s --svg FILE)\n",
                  o.svg.c_str(), o.profile.c_str());
    }
    return;
  }
  std::vector<int> counts = {o.tokens};
  if (o.sweep || !o.write_profile.empty()) counts = profile_token_counts(o.tokens);
  const double row_bytes = ep_dispatch_row_bytes(o.hidden);
  std::vector<Point> pts;
  for (int t : counts) pts.push_back(measure(group, o, t, 1234u + t));
  const auto& dev = runtime::current_device();
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  if (!o.json)
    std::printf("rank %d/%d on %s, %s mode, %d SMs for NCCL, hidden %d, top-%d of %d experts\n"
                "%8s %10s %12s %14s %12s %14s\n", group.rank(), group.size(), dev.name.c_str(), o.mode.c_str(),
                o.comm_sms, o.hidden, o.top_k, o.experts, "tokens", "recv rows", "dispatch us", "dispatch GB/s",
                "combine us", "combine GB/s");
  for (const Point& p : pts) {
    const double dgb = p.rows * row_bytes / (p.dispatch_us * 1e3),
                 cgb = p.rows * ep_combine_row_bytes(o.hidden) / (p.combine_us * 1e3);
    if (!o.json)
      std::printf("%8d %10.0f %12.1f %14.1f %12.1f %14.1f\n", p.tokens, p.rows, p.dispatch_us, dgb, p.combine_us, cgb);
    rows.push_back({{"tokens", p.tokens}, {"received_rows", p.rows}, {"dispatch_us", p.dispatch_us},
                    {"dispatch_gbps", dgb}, {"combine_us", p.combine_us}, {"combine_gbps", cgb}});
  }
  // `bench profile --comm FILE` reads this (ep_comm_measurement.hpp).
  nlohmann::ordered_json run = {{"rank", group.rank()}, {"ranks", group.size()}, {"device", dev.name},
                                {"mode", o.mode},       {"comm_sms", o.comm_sms}, {"hidden", o.hidden},
                                {"top_k", o.top_k},     {"experts", o.experts},   {"points", rows}};
  if (!o.phase.empty()) run["phase"] = o.phase;
  if (o.json) std::printf("%s\n", run.dump(2).c_str());
  if (!o.write_profile.empty() && group.rank() == 0) {
    // The same fit `bench profile --comm` makes from this run's --json output.
    EpCommRun measured;
    measured.origin = "this run";
    measured.phase = o.phase;
    measured.mode = o.mode;
    measured.device = dev.name;
    measured.ranks = group.size();
    measured.comm_sms = o.comm_sms;
    measured.hidden = o.hidden;
    for (const Point& p : pts) measured.points.push_back({p.tokens, p.rows, p.dispatch_us, p.combine_us});
    std::string profile = read_base_profile(o.write_profile).dump();
    for (const planner::MeasuredComm& m : fit_ep_comm(measured))
      profile = planner::with_measured_comm(profile, m.phase, m.op, m.cost, m.how);
    write_file_atomically(o.write_profile, profile);
    std::printf("wrote measured dispatch/combine of phase %s into %s\n", o.phase.c_str(), o.write_profile.c_str());
  }
}

}  // namespace

void add_bench_ep(CLI::App& bench) {
  auto o = std::make_shared<EpBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "ep", "Expert-parallel dispatch/combine over NCCL: latency and GB/s per rank (run under a launcher for N ranks)");
  cmd->add_option("--tokens", o->tokens, "Tokens per rank (default 4096)")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--hidden", o->hidden, "Model width (default 7168)")->check(CLI::Range(512, 16384));
  cmd->add_option("--top-k", o->top_k, "Experts per token (default 8)")->check(CLI::Range(1, 32));
  cmd->add_option("--experts", o->experts, "Logical experts, spread evenly over the ranks (default 256)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--mode", o->mode, "normal | low-latency")->check(CLI::IsMember({"normal", "low-latency"}));
  cmd->add_option("--capacity", o->capacity, "Low-latency rows per local expert (multiple of 64; default: 2x the mean)");
  cmd->add_option("--comm-sms", o->comm_sms, "CTAs NCCL may use (ncclConfig_t min/maxCTAs; default 24)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--iters", o->iters, "Timed iterations (median; default 20)")->check(CLI::Range(1, 10000));
  cmd->add_option("--write-profile", o->write_profile,
                  "Cost profile to update: measure at t/4..2t tokens and rewrite --phase's dispatch and combine");
  cmd->add_option("--phase", o->phase, "Phase of --write-profile or --overlap (prefill, decode, ...; --overlap: default the first)");
  cmd->add_flag("--json", o->json, "Machine-readable output (what `bench profile --comm FILE` reads)");
  cmd->add_flag("--sweep", o->sweep, "Measure at t/4, t/2, t and 2t tokens (t = --tokens), as --write-profile does");
  cmd->add_flag("--overlap", o->overlap,
                "Run --profile's overlap plan for --phase (two micro-batches, EpOverlapLayer) and print planned "
                "against measured op times");
  cmd->add_option("--profile", o->profile, "With --overlap: the cost profile the plan is built from")
      ->check(CLI::ExistingFile);
  cmd->add_option("--plan", o->plan, "With --overlap: `plan overlap --json` output to take the choice from "
                                     "(default: the chooser's plan for the profile)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--svg", o->svg, "With --overlap: draw the measured run (rank 0) like `plan overlap --svg`");
  cmd->callback([o] { run_bench_ep(*o); });
}

}  // namespace shapejit::cli
