// `shapejit bench mla`: MLA decode at batch 128 over mean KV lengths 4096..32768 (lengths varied
// ±25%), h_q 16..128, s_q 1 and 2, BF16 and FP8 KV, page size 64. Reports TFLOPS and GB/s with
// their fractions of this GPU's device-to-device copy bandwidth and cuBLASLt BF16 dense matmul
// rate, both measured in the same run.
//   FLOPs = s_q·Σseqlen·h_q·(576 + 512)·2
//   bytes = Σseqlen·row_bytes + batch·s_q·h_q·576·2 + batch·s_q·h_q·512·2
// (row_bytes = 1152 for BF16, 656 for FP8; for BF16 this is the formula with element
// size 2).
#include <cublasLt.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench_mla_call.hpp"
#include "bench_timing.hpp"
#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::cli {

namespace {

using namespace shapejit::runtime;

// cuBLASLt BF16 × BF16 → BF16, FP32 accumulation, 8192³: the device's dense matrix rate.
double cublaslt_bf16_tflops(BenchTimer& timer) {
  constexpr int n = 8192;
  DeviceBuffer a(std::size_t{n} * n * 2), b(std::size_t{n} * n * 2), d(std::size_t{n} * n * 2);
  DeviceBuffer ws(64u << 20);
  a.fill_bytes(0x3c);
  b.fill_bytes(0x3c);
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layout = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  auto check = [](cublasStatus_t s, const char* what) {
    if (s != CUBLAS_STATUS_SUCCESS)
      fail(Errc::driver, std::string("cuBLASLt ") + what + " failed with status " + std::to_string(s));
  };
  check(cublasLtCreate(&handle), "create");
  check(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
  const cublasOperation_t t = CUBLAS_OP_T, nn = CUBLAS_OP_N;
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t);
  cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &nn, sizeof nn);
  check(cublasLtMatrixLayoutCreate(&layout, CUDA_R_16BF, n, n, n), "layout");
  check(cublasLtMatmulPreferenceCreate(&pref), "preference");
  const std::size_t ws_bytes = ws.bytes();
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                       sizeof ws_bytes);
  cublasLtMatmulHeuristicResult_t algo{};
  int found = 0;
  check(cublasLtMatmulAlgoGetHeuristic(handle, desc, layout, layout, layout, layout, pref, 1, &algo,
                                       &found),
        "heuristic");
  if (found == 0) fail(Errc::driver, "cuBLASLt found no BF16 algorithm");
  const float alpha = 1.0f, beta = 0.0f;
  const double ms = timer.median_ms([&] {
    check(cublasLtMatmul(handle, desc, &alpha, reinterpret_cast<void*>(a.ptr()), layout,
                         reinterpret_cast<void*>(b.ptr()), layout, &beta,
                         reinterpret_cast<void*>(d.ptr()), layout, reinterpret_cast<void*>(d.ptr()),
                         layout, &algo.algo, reinterpret_cast<void*>(ws.ptr()), ws_bytes, nullptr),
          "matmul");
  }, 10, 2);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(layout);
  cublasLtMatmulDescDestroy(desc);
  cublasLtDestroy(handle);
  return 2.0 * n * n * double(n) / (ms * 1e-3) / 1e12;
}

struct Options {
  bool json = false;
  bool quick = false;
  std::string load_path = "cp_async";   // the split kernel: cp_async (default) or tma
};

void run(const Options& opt) {
  std::string why;
  if (!driver_available(&why)) {
    std::cerr << "shapejit bench mla: needs a CUDA GPU: " << why << "\n";
    throw ExitCode{kExitFailure};
  }
  const DeviceInfo& dev = current_device();
  BenchTimer timer;
  const double copy_gbs = timer.copy_gbs();
  const double mm_tflops = cublaslt_bf16_tflops(timer);

  constexpr int kBatch = 128, kPage = 64;
  nlohmann::json rows = nlohmann::json::array();
  if (!opt.json) {
    std::printf("device: %s (%d SMs), split kernel load path: %s\n", dev.name.c_str(), dev.num_sms,
                opt.load_path.c_str());
    std::printf("copy bandwidth (D2D, read+write): %.0f GB/s;  cuBLASLt BF16 8192^3: %.0f TFLOPS\n\n",
                copy_gbs, mm_tflops);
    std::printf("%-5s %6s %4s %4s %9s %8s %8s %6s %8s %6s\n", "kv", "mean_sk", "h_q", "s_q", "time us",
                "GB/s", "%copy", "TFLOPS", "%mm", "bound");
  }
  std::vector<int> mean_lens = opt.quick ? std::vector<int>{4096, 32768}
                                         : std::vector<int>{4096, 8192, 16384, 32768};
  for (MlaKvDtype dtype : {MlaKvDtype::bf16, MlaKvDtype::fp8_e4m3})
    for (int mean : mean_lens) {
      // Lengths varied ±25% around the mean; one cache for all head counts of this length.
      std::mt19937 rng(static_cast<unsigned>(mean));
      std::vector<std::int32_t> lens(kBatch);
      for (auto& l : lens) l = mean * 3 / 4 + static_cast<int>(rng() % (mean / 2 + 1));
      int max_blocks = 0, num_blocks = 0;
      for (int l : lens) {
        max_blocks = std::max(max_blocks, (l + kPage - 1) / kPage);
        num_blocks += (l + kPage - 1) / kPage;
      }
      std::vector<std::int32_t> table(static_cast<std::size_t>(kBatch) * max_blocks, 0);
      std::vector<int> perm(num_blocks);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      int next = 0;
      for (int b = 0; b < kBatch; ++b)
        for (int j = 0; j < (lens[b] + kPage - 1) / kPage; ++j)
          table[static_cast<std::size_t>(b) * max_blocks + j] = perm[next++];
      const std::size_t row_bytes = static_cast<std::size_t>(mla_kv_row_bytes(dtype));
      DeviceBuffer cache(static_cast<std::size_t>(num_blocks) * kPage * row_bytes);
      // Not zeros: 0x3a is a small positive BF16 pair / E4M3 value; scales read as ~7e-4.
      cache.fill_bytes(0x3a);
      DeviceBuffer d_table(table.size() * 4), d_lens(lens.size() * 4);
      d_table.upload(table);
      d_lens.upload(lens);
      const double sum_len = std::accumulate(lens.begin(), lens.end(), 0.0);

      for (int h : {16, 32, 64, 128})
        for (int sq : {1, 2}) {
          const MlaConfig c{h, sq, kPage, dtype,
                            opt.load_path == "tma" ? MlaLoadPath::tma : MlaLoadPath::cp_async};
          const std::size_t qrows = static_cast<std::size_t>(kBatch) * sq * h;
          const MlaBenchCall call(c, kBatch, dev.num_sms,
                                  {cache.ptr(), d_table.ptr(), d_lens.ptr(), num_blocks, max_blocks});
          const MlaDecodeArgs& a = call.args();
          const double ms = timer.median_ms([&] { mla_decode(c, a, nullptr); }, 10, 2);
          const double flops = sq * sum_len * h * (576.0 + 512.0) * 2.0;
          const double bytes = sum_len * row_bytes + qrows * 576.0 * 2 + qrows * 512.0 * 2;
          const double tflops = flops / (ms * 1e-3) / 1e12;
          const double gbs = bytes / (ms * 1e-3) / 1e9;
          const bool compute_bound = h * sq >= 256;
          const char* kv = dtype == MlaKvDtype::bf16 ? "bf16" : "fp8";
          rows.push_back({{"kv", kv}, {"mean_sk", mean}, {"h_q", h}, {"s_q", sq}, {"us", ms * 1e3},
                          {"gbs", gbs}, {"copy_fraction", gbs / copy_gbs}, {"tflops", tflops},
                          {"matmul_fraction", tflops / mm_tflops}});
          if (!opt.json)
            std::printf("%-5s %6d %4d %4d %9.1f %8.0f %7.1f%% %6.0f %7.1f%% %6s\n", kv, mean, h, sq,
                        ms * 1e3, gbs, 100 * gbs / copy_gbs, tflops, 100 * tflops / mm_tflops,
                        compute_bound ? "math" : "memory");
        }
    }
  if (opt.json) {
    std::cout << nlohmann::json{{"device", dev.name}, {"load_path", opt.load_path}, {"copy_gbs", copy_gbs},
                                {"bf16_matmul_tflops", mm_tflops}, {"rows", rows}}
                     .dump(2)
              << "\n";
    return;
  }
  std::printf("\nTargets: memory-bound rows >= 90%% of copy bandwidth; h_q*s_q >= 256 rows >= 600 "
              "TFLOPS on H100. FlashMLA reports 3000 GB/s and 660 TFLOPS on H800.\n");
}

}  // namespace

void add_bench_mla(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  auto* cmd = bench.add_subcommand(
      "mla", "MLA decode, batch 128, mean s_k 4096..32768, h_q 16..128, s_q 1/2, BF16 and FP8 KV");
  cmd->add_flag("--json", opt->json, "Print one JSON document instead of the table");
  cmd->add_flag("--quick", opt->quick, "Only mean s_k 4096 and 32768");
  cmd->add_option("--load-path", opt->load_path, "split kernel: cp_async (default) or tma (not yet GPU-proven)")
      ->check(CLI::IsMember({"cp_async", "tma"}));
  cmd->callback([opt] { run(*opt); });
}

}  // namespace shapejit::cli
