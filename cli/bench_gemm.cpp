// `shapejit bench gemm`: our FP8 (1D2D-scaled) and BF16 NT GEMMs against cuBLASLt on the same
// inputs, per shape: TFLOPS (2MNK/t), GB/s over A, B and D, the ratio, geometric means, and
// DeepGEMM's published H800 figures at M = 4096 in the same table. CUDA events through the
// driver, warm-up, L2 flushed (256 MB write) before every timed run, median of many.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_timing.hpp"
#include "cublaslt_gemm.hpp"
#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/deepseek_v3_gemm_shapes.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"

namespace shapejit::cli {
namespace {

using namespace shapejit::runtime;

struct BenchGemmOptions {
  bool json = false;
  std::string shapes = "dsv3";
  std::string ms = "64,128,4096";
  std::string dtype = "fp8";
  int iters = 30;
};

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      v.push_back(std::stoi(item));
    } catch (...) {
      fail(Errc::invalid_argument, "bench gemm: '" + item + "' is not an integer");
    }
  }
  return v;
}

// N x K pairs: "dsv3" or "N1xK1,N2xK2".
std::vector<std::pair<int, int>> parse_shapes(const std::string& s) {
  std::vector<std::pair<int, int>> v;
  if (s == "dsv3") {
    for (const GemmShapeNK& nk : kDeepSeekV3GemmShapes) v.emplace_back(nk.n, nk.k);
    return v;
  }
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto x = item.find('x');
    if (x == std::string::npos)
      fail(Errc::invalid_argument, "bench gemm: shape '" + item + "' is not NxK");
    v.push_back({std::stoi(item.substr(0, x)), std::stoi(item.substr(x + 1))});
  }
  return v;
}

double deepgemm_h800(int n, int k) {
  const int ref[][3] = {{2112, 7168, 1127}, {24576, 1536, 1212}, {32768, 512, 775},
                        {7168, 16384, 1520}, {4096, 7168, 1410}, {7168, 2048, 1168}};
  for (auto& r : ref)
    if (r[0] == n && r[1] == k) return r[2];
  return 0;
}

void fill_random(DeviceBuffer& b, std::mt19937_64& rng, bool fp8) {
  std::vector<std::uint8_t> h(b.bytes());
  for (std::size_t i = 0; i < h.size(); ++i) {
    std::uint8_t v = static_cast<std::uint8_t>(rng());
    if (fp8) {
      if ((v & 0x7f) == 0x7f) v ^= 1;
    } else if (i % 2 == 1) {
      v = static_cast<std::uint8_t>(0x3c + (v & 1) + ((v & 0x80)));   // bf16 high byte: ±[0.5, 2)
    }
    h[i] = v;
  }
  b.upload(h.data(), h.size());
}

void run_bench(const BenchGemmOptions& opt) {
  std::string why;
  if (!driver_available(&why)) {
    std::cerr << "shapejit bench gemm needs a CUDA GPU: " << why << "\n";
    throw ExitCode{kExitFailure};
  }
  const bool fp8 = opt.dtype == "fp8";
  if (!fp8 && opt.dtype != "bf16")
    fail(Errc::invalid_argument, "bench gemm: --dtype must be fp8 or bf16");
  const DeviceInfo& dev = current_device();
  const auto shapes = parse_shapes(opt.shapes);
  const auto ms = parse_ints(opt.ms);
  std::mt19937_64 rng(std::random_device{}());
  BenchTimer timer;

  nlohmann::json rows = nlohmann::json::array();
  double log_ratio = 0, log_ours = 0;
  int count = 0;
  if (!opt.json) {
    std::printf("device: %s (%d SMs)   %s GEMM, median of %d, L2 flushed\n", dev.name.c_str(),
                dev.num_sms, fp8 ? "FP8 1D2D-scaled" : "BF16", opt.iters);
    std::printf("%6s %6s %6s | %8s %8s | %8s %8s | %6s | %9s | %s\n", "M", "N", "K", "TFLOPS",
                "GB/s", "ref TF", "ref GB/s", "ratio", "DeepGEMM", "config / reference");
  }
  for (auto [n, k] : shapes) {
    for (int m : ms) {
      const int eb = fp8 ? 1 : 2;
      DeviceBuffer a(static_cast<std::size_t>(m) * k * eb), b(static_cast<std::size_t>(n) * k * eb);
      DeviceBuffer d(static_cast<std::size_t>(m) * n * 2), d_ref(static_cast<std::size_t>(m) * n * 2);
      fill_random(a, rng, fp8);
      fill_random(b, rng, fp8);
      const std::size_t sa_count = static_cast<std::size_t>(k / 128) * ((m + 3) / 4 * 4);
      const std::size_t sb_count = static_cast<std::size_t>((n + 127) / 128) * (k / 128);
      std::vector<float> ones(std::max(sa_count, sb_count) + 1024, 1.0f);
      DeviceBuffer sa(ones.size() * 4), sb(ones.size() * 4);
      sa.upload(ones);
      sb.upload(ones);

      double ours_ms = 0;
      std::string config;
      if (fp8) {
        GemmFp8Args g;
        g.a = a.ptr(); g.a_scales = sa.ptr(); g.b = b.ptr(); g.b_scales = sb.ptr(); g.d = d.ptr();
        g.m = m; g.n = n; g.k = k;
        ours_ms = timer.median_ms([&] { gemm_fp8_nt(g); }, opt.iters);
        config = gemm_spec(g, dev).canonical();
      } else {
        GemmBf16Args g;
        g.a = a.ptr(); g.b = b.ptr(); g.d = d.ptr();
        g.m = m; g.n = n; g.k = k;
        ours_ms = timer.median_ms([&] { gemm_bf16_nt(g); }, opt.iters);
        config = gemm_spec(g, dev).canonical();
      }
      double ref_ms = 0;
      std::string ref_label = "cuBLASLt: no algorithm";
      for (bool block : {true, false}) {
        if (!fp8 && block) continue;
        LtGemm lt(fp8, block, m, n, k, sb.ptr(), sa.ptr());
        if (!lt.ok) continue;
        try {
          ref_ms = timer.median_ms([&] { lt.run(a.ptr(), b.ptr(), d_ref.ptr()); }, opt.iters);
          ref_label = lt.label;
          break;
        } catch (const Error&) {
          ref_ms = 0;
        }
      }
      const double flops = 2.0 * m * n * static_cast<double>(k);
      const double bytes = static_cast<double>(m) * k * eb + static_cast<double>(n) * k * eb +
                           static_cast<double>(m) * n * 2;
      const double tf = flops / ours_ms / 1e9, gbs = bytes / ours_ms / 1e6;
      const double rtf = ref_ms > 0 ? flops / ref_ms / 1e9 : 0, rgbs = ref_ms > 0 ? bytes / ref_ms / 1e6 : 0;
      const double ratio = ref_ms > 0 ? ref_ms / ours_ms : 0;
      const double dg = (fp8 && m == 4096) ? deepgemm_h800(n, k) : 0;
      if (ratio > 0) {
        log_ratio += std::log(ratio);
        log_ours += std::log(tf);
        ++count;
      }
      rows.push_back({{"m", m}, {"n", n}, {"k", k}, {"us", ours_ms * 1e3}, {"tflops", tf},
                      {"gbs", gbs}, {"ref", ref_label}, {"ref_us", ref_ms * 1e3},
                      {"ref_tflops", rtf}, {"ref_gbs", rgbs}, {"ratio", ratio},
                      {"deepgemm_h800_tflops", dg}, {"spec", config}});
      if (!opt.json) {
        std::printf("%6d %6d %6d | %8.1f %8.0f | %8.1f %8.0f | %6.3f | %9s | %s\n", m, n, k, tf,
                    gbs, rtf, rgbs, ratio, dg > 0 ? std::to_string(static_cast<int>(dg)).c_str() : "-",
                    ref_label.c_str());
        std::fflush(stdout);
      }
    }
  }
  const double geo_ratio = count ? std::exp(log_ratio / count) : 0;
  const double geo_tf = count ? std::exp(log_ours / count) : 0;
  if (opt.json) {
    std::cout << nlohmann::json{{"device", dev.name}, {"dtype", opt.dtype}, {"rows", rows},
                                {"geomean_ratio", geo_ratio}, {"geomean_tflops", geo_tf},
                                {"reference_note", "deepgemm_h800_tflops: DeepGEMM's published H800 figures at M=4096"}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("geometric mean: ours %.1f TFLOPS, ratio over the reference %.3f (%d shapes)\n",
                geo_tf, geo_ratio, count);
  }
}

}  // namespace

void add_bench_gemm(CLI::App& bench) {
  auto opt = std::make_shared<BenchGemmOptions>();
  auto* cmd = bench.add_subcommand("gemm", "FP8/BF16 NT GEMM vs cuBLASLt and DeepGEMM's H800 figures");
  cmd->add_flag("--json", opt->json, "Print one JSON document instead of the table");
  cmd->add_option("--shapes", opt->shapes, "dsv3 (default) or NxK,NxK,...");
  cmd->add_option("--m", opt->ms, "comma-separated M values (default 64,128,4096)");
  cmd->add_option("--dtype", opt->dtype, "fp8 (default) or bf16");
  cmd->add_option("--iters", opt->iters, "timed runs per kernel (median reported)");
  cmd->callback([opt] {
    try {
      run_bench(*opt);
    } catch (const ExitCode&) {
      throw;
    } catch (const Error& e) {
      std::cerr << "shapejit bench gemm: " << e.what() << "\n";
      throw ExitCode{e.code() == Errc::invalid_argument ? kExitBadInput : kExitFailure};
    }
  });
}

}  // namespace shapejit::cli
