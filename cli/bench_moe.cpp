// `shapejit bench moe`: each stage of the one-GPU MoE layer at DeepSeek-V3 dims with 32 local
// experts, against a device-to-device copy measured in the same run (dispatch, combine) and
// DeepGEMM's published H800 grouped-GEMM figures (the GEMM stages).
#include <nlohmann/json.hpp>

#include <fstream>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench_timing.hpp"
#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/planner/cost_profile_writer.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::cli {

namespace {

using namespace shapejit::runtime;

// Each token picks top_k distinct experts of num_experts, uniformly or Zipf(s = 1.2).
std::vector<int> routing(int T, int top_k, int num_experts, bool zipf, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<double> w(num_experts);
  for (int e = 0; e < num_experts; ++e) w[e] = zipf ? 1.0 / std::pow(e + 1.0, 1.2) : 1.0;
  std::vector<int> out(static_cast<std::size_t>(T) * top_k);
  for (int t = 0; t < T; ++t) {
    std::vector<double> left = w;
    for (int j = 0; j < top_k; ++j) {
      std::discrete_distribution<int> pick(left.begin(), left.end());
      const int e = pick(rng);
      left[e] = 0;
      out[static_cast<std::size_t>(t) * top_k + j] = e;
    }
  }
  return out;
}

struct Options {
  bool json = false;
  std::string profile, base, phase = "prefill";
};

// The measured MoE compute (grouped GEMMs + SwiGLU, uniform routing) as the moe_gemm op of a
// planner cost profile; the other ops are carried from --base.
void write_profile(const Options& opt, const DeviceInfo& dev, const nlohmann::json& rows,
                   int local_experts) {
  planner::MeasuredOp m{opt.phase, "moe_gemm", {},
                        "grouped GEMMs + SwiGLU, " + std::to_string(local_experts) +
                            " local experts, top-8, uniform routing, all SMs"};
  for (const auto& r : rows)
    if (r["routing"] == "uniform" && r.contains("gate_up_us"))
      m.points.emplace_back(r["tokens"].get<double>(), r["gate_up_us"].get<double>() +
                                                           r["swiglu_us"].get<double>() +
                                                           r["down_us"].get<double>());
  std::ifstream in(opt.base);
  if (!in) fail(Errc::invalid_argument, "cannot read base profile " + opt.base);
  nlohmann::json base;
  try {
    base = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(Errc::invalid_argument, opt.base + ": not valid JSON: " + e.what());
  }
  const nlohmann::json profile = planner::measured_cost_profile(
      base, opt.base, dev.name, dev.num_sms, {m}, "shapejit bench moe --profile");
  std::ofstream out(opt.profile);
  out << profile.dump(2) << "\n";
  if (!out) fail(Errc::io, "cannot write " + opt.profile);
  std::cerr << "wrote cost profile " << opt.profile << " (" << opt.phase << ".moe_gemm measured)\n";
}

void run(const Options& opt) {
  std::string why;
  if (!driver_available(&why)) {
    std::cerr << "shapejit bench moe: needs a CUDA GPU: " << why << "\n";
    throw ExitCode{kExitFailure};
  }
  const DeviceInfo& dev = current_device();
  MoeConfig c;   // DeepSeek-V3: hidden 7168, intermediate 2048, top-8; 32 local experts
  const int H = c.hidden, I = c.intermediate, E = c.num_experts, k = c.top_k;

  BenchTimer timer;
  const double copy_gbs = timer.copy_gbs();   // reference: 1 GiB D2D, bytes read + written
  auto time_ms = [&timer](auto&& f) { return timer.median_ms(f, 20); };

  // Weights: random FP8 with 128x128 scales (values do not matter for timing, but not zeros).
  std::mt19937 rng(12345);
  auto random_bytes = [&](std::size_t n) {
    std::vector<std::uint8_t> v(n);
    std::uniform_int_distribution<int> d(0x20, 0x50);
    for (auto& b : v) b = static_cast<std::uint8_t>(d(rng) | (rng() & 0x80));
    return v;
  };
  DeviceBuffer w13(static_cast<std::size_t>(E) * 2 * I * H), w2(static_cast<std::size_t>(E) * H * I);
  w13.upload(random_bytes(w13.bytes()));
  w2.upload(random_bytes(w2.bytes()));
  DeviceBuffer w13s(static_cast<std::size_t>(E) * (2 * I / 128) * (H / 128) * 4);
  DeviceBuffer w2s(static_cast<std::size_t>(E) * (H / 128) * (I / 128) * 4);
  w13s.upload(std::vector<float>(w13s.bytes() / 4, 1e-3f));
  w2s.upload(std::vector<float>(w2s.bytes() / 4, 1e-3f));
  const MoeWeights weights{w13.ptr(), w13s.ptr(), w2.ptr(), w2s.ptr()};

  nlohmann::json rows = nlohmann::json::array();
  if (!opt.json) {
    std::printf("shapejit bench moe on %s (%d SMs): hidden %d, intermediate %d, %d local experts, top-%d\n",
                dev.name.c_str(), dev.num_sms, H, I, E, k);
    std::printf("copy bandwidth (D2D, read+write): %.0f GB/s\n\n", copy_gbs);
    std::printf("%6s %8s | %9s %9s %9s %9s %9s %9s | %9s %7s | %9s %7s | %8s\n", "T", "routing",
                "route us", "disp us", "gateup us", "swiglu us", "down us", "comb us", "disp GB/s",
                "%copy", "comb GB/s", "%copy", "TFLOPS");
  }
  for (int T : {128, 4096, 16384}) {
    for (bool zipf : {false, true}) {
      const auto topk = routing(T, k, E, zipf, 7 + T);
      std::vector<std::uint16_t> x(static_cast<std::size_t>(T) * H);
      std::normal_distribution<float> nd(0.f, 1.f);
      for (auto& v : x) v = float_to_bf16(nd(rng));
      std::vector<float> tw(static_cast<std::size_t>(T) * k, 1.0f / k);
      DeviceBuffer dx(x.size() * 2), didx(topk.size() * 4), dtw(tw.size() * 4), out(x.size() * 2);
      dx.upload(x);
      didx.upload(topk);
      dtw.upload(tw);
      MoeWorkspace ws(c, T);
      const MoeRouting r = ws.routing();
      const MoeFp8Rows xq = ws.xq(T), aq = ws.aq(T);
      const MoeRoutingHost ref = moe_route_reference(c, T, topk);
      const double routed = static_cast<double>(T) * k;   // every entry is local here

      const double route_ms = time_ms([&] { moe_route(c, T, didx.ptr(), r); });
      const double disp_ms = time_ms([&] { moe_dispatch(c, T, dx.ptr(), r, xq); });
      double gu_ms = NAN, down_ms = NAN;
      std::string gemm_note;
      try {
        gu_ms = time_ms([&] { moe_gate_up(c, T, xq, weights, r, ws.h()); });
        down_ms = time_ms([&] { moe_down(c, T, aq, weights, r, ws.y()); });
      } catch (const Error& e) {
        if (e.code() != Errc::unsupported) throw;
        gemm_note = e.what();
      }
      const double sw_ms = time_ms([&] { moe_swiglu(c, T, ws.h(), r, aq); });
      const double comb_ms = time_ms([&] { moe_combine(c, T, ws.y(), r, dtw.ptr(), out.ptr()); });

      // Bytes each memory-bound stage must move at least once.
      const double disp_bytes = T * H * 2.0 + routed * (H + H / 128 * 4.0) + routed * 4.0;
      const double comb_bytes = routed * H * 2.0 + T * H * 2.0 + routed * 8.0;
      const double disp_gbs = disp_bytes / (disp_ms * 1e-3) / 1e9;
      const double comb_gbs = comb_bytes / (comb_ms * 1e-3) / 1e9;
      const double flops = 2.0 * routed * (2.0 * I * H + static_cast<double>(H) * I);
      const double layer_ms = route_ms + disp_ms + gu_ms + sw_ms + down_ms + comb_ms;
      const double tflops = flops / (layer_ms * 1e-3) / 1e12;
      const int padded_rows = ref.row_begin[E];

      nlohmann::json row = {{"tokens", T}, {"routing", zipf ? "zipf1.2" : "uniform"},
                            {"padded_rows", padded_rows}, {"route_us", route_ms * 1e3},
                            {"dispatch_us", disp_ms * 1e3}, {"swiglu_us", sw_ms * 1e3},
                            {"combine_us", comb_ms * 1e3}, {"dispatch_gbs", disp_gbs},
                            {"combine_gbs", comb_gbs}, {"copy_gbs", copy_gbs}};
      if (std::isnan(gu_ms)) {
        row["gemm"] = gemm_note;
      } else {
        row["gate_up_us"] = gu_ms * 1e3;
        row["down_us"] = down_ms * 1e3;
        row["gate_up_tflops"] = 2.0 * padded_rows * 2.0 * I * H / (gu_ms * 1e-3) / 1e12;
        row["down_tflops"] = 2.0 * padded_rows * H * static_cast<double>(I) / (down_ms * 1e-3) / 1e12;
        row["layer_tflops"] = tflops;
      }
      rows.push_back(row);
      if (!opt.json)
        std::printf("%6d %8s | %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f | %9.0f %6.0f%% | %9.0f %6.0f%% | %8.1f\n",
                    T, zipf ? "zipf" : "uniform", route_ms * 1e3, disp_ms * 1e3, gu_ms * 1e3,
                    sw_ms * 1e3, down_ms * 1e3, comb_ms * 1e3, disp_gbs, 100 * disp_gbs / copy_gbs,
                    comb_gbs, 100 * comb_gbs / copy_gbs, tflops);
    }
  }
  if (!opt.profile.empty()) write_profile(opt, dev, rows, c.num_experts);
  const nlohmann::json reference = {
      {"source", "DeepGEMM published H800 grouped FP8 GEMM, N x K = 4096 x 7168"},
      {"contiguous_tflops", {{"4x8192", 1297}, {"8x4096", 1288}}},
      {"masked_tflops", {{"1x1024", 1233}, {"2x512", 1040}, {"4x256", 932}}}};
  if (opt.json) {
    std::cout << nlohmann::json{{"device", dev.name}, {"copy_gbs", copy_gbs}, {"rows", rows},
                                {"grouped_gemm_reference", reference}}
                     .dump(2)
              << "\n";
    return;
  }
  std::printf("\nTargets: dispatch and combine >= 80%% of copy bandwidth.\n");
  std::printf("Grouped GEMM reference (DeepGEMM, H800, N x K = 4096 x 7168): contiguous 4x8192 1297, "
              "8x4096 1288 TFLOPS; masked 1x1024 1233, 2x512 1040, 4x256 932 TFLOPS.\n");
  if (!rows.empty() && rows[0].contains("gemm"))
    std::printf("Grouped GEMM stages not run: %s\n", rows[0]["gemm"].get<std::string>().c_str());
}

}  // namespace

void add_bench_moe(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  auto* cmd = bench.add_subcommand(
      "moe", "MoE layer stages at DeepSeek-V3 dims, 32 local experts, T in {128, 4096, 16384}");
  cmd->add_flag("--json", opt->json, "Print one JSON document instead of the table");
  auto* profile = cmd->add_option("--profile", opt->profile,
                                  "also write a planner cost profile with the measured moe_gemm op");
  cmd->add_option("--base", opt->base, "profile the other ops are carried from "
                                       "(e.g. planner/profiles/h800_deepseek_v3_single_node_ep8.json)")
      ->needs(profile);
  cmd->add_option("--profile-phase", opt->phase, "phase the measurement describes (prefill, decode)")
      ->needs(profile);
  cmd->callback([opt] {
    if (!opt->profile.empty() && opt->base.empty())
      throw CLI::RequiredError("--profile needs --base PROFILE (the ops it does not measure)");
    run(*opt);
  });
}

}  // namespace shapejit::cli
