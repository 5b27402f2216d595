// `shapejit bench moe`: each stage of the one-GPU MoE layer at DeepSeek-V3 dims with 32 local
// experts, against a device-to-device copy measured in the same run (dispatch, combine) and
// DeepGEMM's published H800 grouped-GEMM figures (the GEMM stages).
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench_moe_stages.hpp"
#include "bench_profile_plan.hpp"
#include "bench_timing.hpp"
#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile_writer.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::cli {

namespace {

using namespace shapejit::runtime;

struct Options {
  bool json = false;
  std::string profile, base, phase = "prefill";
};

// The measured MoE compute (grouped GEMMs + SwiGLU, uniform routing) as the moe_gemm op of a
// planner cost profile; the other ops are carried from --base (read and checked before the GPU
// is touched).
void write_profile(const Options& opt, const nlohmann::json& base, const DeviceInfo& dev,
                   const nlohmann::json& rows, int local_experts) {
  planner::MeasuredOp m{opt.phase, "moe_gemm", {},
                        "grouped GEMMs + SwiGLU, " + std::to_string(local_experts) +
                            " local experts, top-8, uniform routing, all SMs"};
  for (const auto& r : rows)
    if (r["routing"] == "uniform" && r.contains("gate_up_us"))
      m.points.emplace_back(r["tokens"].get<double>(), r["gate_up_us"].get<double>() +
                                                           r["swiglu_us"].get<double>() +
                                                           r["down_us"].get<double>());
  const nlohmann::json profile = planner::measured_cost_profile(
      base, opt.base, dev.name, dev.num_sms, {m}, "shapejit bench moe --profile");
  write_file_atomically(opt.profile, profile.dump(2) + "\n");
  std::cerr << "wrote cost profile " << opt.profile << " (" << opt.phase << ".moe_gemm measured)\n";
}

void run(const Options& opt) {
  nlohmann::json base;
  if (!opt.profile.empty()) {
    check_output_folder("--profile", opt.profile);
    base = read_base_profile(opt.base);
    if (!base["phases"].contains(opt.phase))
      fail(Errc::invalid_argument, opt.base + ": no phase \"" + opt.phase + "\" (--profile-phase)");
  }
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
  std::mt19937 rng(12345);
  const MoeBenchWeights weights(c, rng);

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
      const auto topk = moe_bench_routing(T, k, E, zipf, 7 + T);
      const MoeStageTimes st =
          time_moe_stages(timer, c, weights.view(), T, topk, 20, /*all_stages=*/true, rng);
      const double route_ms = st.route_ms, disp_ms = st.dispatch_ms, gu_ms = st.gate_up_ms,
                   sw_ms = st.swiglu_ms, down_ms = st.down_ms, comb_ms = st.combine_ms;
      const std::string& gemm_note = st.gemm_note;
      const double routed = static_cast<double>(T) * k;   // every entry is local here

      // Bytes each memory-bound stage must move at least once.
      const double disp_bytes = T * H * 2.0 + routed * (H + H / 128 * 4.0) + routed * 4.0;
      const double comb_bytes = routed * H * 2.0 + T * H * 2.0 + routed * 8.0;
      const double disp_gbs = disp_bytes / (disp_ms * 1e-3) / 1e9;
      const double comb_gbs = comb_bytes / (comb_ms * 1e-3) / 1e9;
      const double flops = 2.0 * routed * (2.0 * I * H + static_cast<double>(H) * I);
      const double layer_ms = route_ms + disp_ms + gu_ms + sw_ms + down_ms + comb_ms;
      const double tflops = flops / (layer_ms * 1e-3) / 1e12;
      const int padded_rows = st.padded_rows;

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
  if (!opt.profile.empty()) write_profile(opt, base, dev, rows, c.num_experts);
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
      throw CLI::ValidationError(
          "--base", "--profile needs --base PROFILE (the profile the ops not measured come from)");
    run(*opt);
  });
}

}  // namespace shapejit::cli
