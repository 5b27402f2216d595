// `shapejit bench ep`: expert-parallel dispatch and combine over NCCL, per rank: latency and
// bandwidth in DeepEP's terms (dispatch: FP8 rows + scales received per second; combine: BF16
// rows sent back per second). Run it under a launcher (SHAPEJIT_EP_RANK/WORLD_SIZE/ID_FILE, or
// RANK/WORLD_SIZE) for N ranks, or alone as a group of one. With --write-profile, rank 0 fits the
// measured points (t/4, t/2, t, 2t tokens) to the cost profile's communication model and
// rewrites that phase's dispatch and combine in the profile file.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "bench_profile_plan.hpp"
#include "commands.hpp"
#include "shapejit/comm/bootstrap.hpp"
#include "shapejit/comm/ep_exchange.hpp"
#include "shapejit/comm/ep_group.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/comm_cost_fit.hpp"
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
  bool json = false;
};

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
  if (!o.write_profile.empty()) {
    if (o.phase.empty()) fail(Errc::invalid_argument, "bench ep: --write-profile needs --phase");
    read_base_profile(o.write_profile);   // fails now, not after the measurement
  }
  comm::EpGroupOptions go;
  go.comm_sms = o.comm_sms;
  auto env = comm::launch_env_from_environment();
  comm::EpGroup group = env ? comm::EpGroup::from_launcher(go)
                            : comm::EpGroup::create(0, 1, comm::new_unique_id(), go);
  std::vector<int> counts = {o.tokens};
  if (!o.write_profile.empty()) counts = profile_token_counts(o.tokens);
  const double row_bytes = o.hidden + 4.0 * o.hidden / 128;   // FP8 payload + scales
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
    const double dgb = p.rows * row_bytes / (p.dispatch_us * 1e3), cgb = p.rows * 2.0 * o.hidden / (p.combine_us * 1e3);
    if (!o.json)
      std::printf("%8d %10.0f %12.1f %14.1f %12.1f %14.1f\n", p.tokens, p.rows, p.dispatch_us, dgb, p.combine_us, cgb);
    rows.push_back({{"tokens", p.tokens}, {"received_rows", p.rows}, {"dispatch_us", p.dispatch_us},
                    {"dispatch_gbps", dgb}, {"combine_us", p.combine_us}, {"combine_gbps", cgb}});
  }
  if (o.json)
    std::printf("%s\n", nlohmann::ordered_json{{"rank", group.rank()}, {"ranks", group.size()}, {"device", dev.name},
                                               {"mode", o.mode}, {"comm_sms", o.comm_sms}, {"points", rows}}
                            .dump(2)
                            .c_str());
  if (!o.write_profile.empty() && group.rank() == 0) {
    // Bytes per token of the profile's model: what one token of this rank costs on the wire.
    std::vector<std::pair<double, double>> d, k;
    double rows_per_token = 0;
    for (const Point& p : pts) {
      d.push_back({double(p.tokens), p.dispatch_us});
      k.push_back({double(p.tokens), p.combine_us});
      rows_per_token = std::max(rows_per_token, p.rows / std::max(1, p.tokens));
    }
    std::ostringstream how;
    how << "shapejit bench ep on " << group.size() << " rank(s) of " << dev.name << ", " << o.comm_sms
        << " SMs for NCCL, points at " << counts.front() << ".." << counts.back()
        << " tokens; bandwidth taken proportional to SMs below that, flat above";
    std::string profile = read_base_profile(o.write_profile).dump();
    profile = planner::with_measured_comm(profile, o.phase, "dispatch",
                                          planner::fit_comm_cost(d, rows_per_token * row_bytes, o.comm_sms), how.str());
    profile = planner::with_measured_comm(profile, o.phase, "combine",
                                          planner::fit_comm_cost(k, rows_per_token * 2.0 * o.hidden, o.comm_sms), how.str());
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
  cmd->add_option("--phase", o->phase, "Phase of --write-profile (prefill, decode, ...)");
  cmd->add_flag("--json", o->json, "Machine-readable output");
  cmd->callback([o] { run_bench_ep(*o); });
}

}  // namespace shapejit::cli
