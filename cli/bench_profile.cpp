// `shapejit bench profile --out FILE --base PROFILE`: measures, for every phase of a base cost
// profile, the ops this GPU can run alone at t/4, t/2, t and 2t tokens (t = the phase's tokens)
// and writes a cost profile for `shapejit plan overlap` whose measured ops are `points` tables
// and whose other ops are carried from the base (bench_profile_plan.cpp decides which, and the
// profile's source says so):
//   moe_gemm       the MoE expert compute of `bench moe` (grouped GEMMs + SwiGLU), 32 experts
//   shared_expert  FP8 GEMM gate-up, MoE SwiGLU + FP8 quantization, FP8 GEMM down
//   attention      decode only: MLA decode (batch = tokens) + the q_a/kv_a, q_b, o_proj GEMMs
//   dispatch, combine   fitted from `bench ep --json --sweep` runs given with --comm FILE (the EP
//                 ranks measure them over NCCL), else carried
// Every op in the written profile says in its "source" whether it is measured or carried.
// Everything on the host (arguments, base profile, plan) is checked before the GPU is touched;
// the profile is written only after every measurement succeeded.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench_moe_stages.hpp"
#include "bench_profile_plan.hpp"
#include "bench_mla_call.hpp"
#include "bench_timing.hpp"
#include "commands.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::cli {

namespace {

using namespace shapejit::runtime;

struct Options {
  std::string out, base;
  std::vector<std::string> comm;
  int context = 4096;
  int iters = 10;
  bool json = false;
};

// An FP8 weight B [n, k] with 128x128 block scales, random.
struct Fp8Weight {
  int n, k;
  DeviceBuffer b, scales;
  Fp8Weight(int n_, int k_, std::mt19937& rng)
      : n(n_), k(k_), b(static_cast<std::size_t>(n_) * k_),
        scales(static_cast<std::size_t>((n_ + 127) / 128) * (k_ / 128) * 4) {
    b.upload(random_fp8_bytes(b.bytes(), rng));
    scales.upload(std::vector<float>(scales.bytes() / 4, 1e-3f));
  }
};

// D [m, n] BF16 = A [m, k] FP8 (1x128 scales, M-major) x Bᵀ through the GEMM front end.
// D [m × w.n] = A (FP8 rows with 1×128 scales) · wᵀ.
GemmFp8Args fp8_gemm_args(const MoeFp8Rows& a, const Fp8Weight& w, CUdeviceptr d, int m) {
  GemmFp8Args g;
  g.a = a.data;
  g.a_scales = a.scales;
  g.a_scale_stride = a.scale_stride;
  g.b = w.b.ptr();
  g.b_scales = w.scales.ptr();
  g.d = d;
  g.m = m;
  g.n = w.n;
  g.k = w.k;
  return g;
}

double time_fp8_gemm(BenchTimer& timer, const Fp8Weight& w, int m, int iters, std::mt19937& rng) {
  const std::size_t stride = (static_cast<std::size_t>(m) + 3) / 4 * 4;
  DeviceBuffer a(static_cast<std::size_t>(m) * w.k), sa(w.k / 128 * stride * 4),
      d(static_cast<std::size_t>(m) * w.n * 2);
  a.upload(random_fp8_bytes(a.bytes(), rng));
  sa.upload(std::vector<float>(sa.bytes() / 4, 1e-2f));
  GemmFp8Args g;
  g.a = a.ptr();
  g.a_scales = sa.ptr();
  g.b = w.b.ptr();
  g.b_scales = w.scales.ptr();
  g.d = d.ptr();
  g.m = m;
  g.n = w.n;
  g.k = w.k;
  return timer.median_ms([&] { gemm_fp8_nt(g); }, iters) * 1e3;
}

// Lazily built device state shared by the token counts (weights are the large part).
struct Bench {
  BenchTimer timer;
  std::mt19937 rng{12345};
  int iters;
  explicit Bench(int iters_) : iters(iters_) {}

  std::unique_ptr<MoeBenchWeights> experts;
  std::unique_ptr<Fp8Weight> shared_gate_up, shared_down, qkv_a, q_b, o_proj;

  OpMeasurement moe_experts(int T) {
    MoeConfig c;   // DeepSeek-V3: hidden 7168, intermediate 2048, 32 local experts, top-8
    if (!experts) experts = std::make_unique<MoeBenchWeights>(c, rng);
    const auto topk = moe_bench_routing(T, c.top_k, c.num_experts, /*zipf=*/false, 7 + T);
    const MoeStageTimes s =
        time_moe_stages(timer, c, experts->view(), T, topk, iters, /*all_stages=*/false, rng);
    return {T, {{"gate_up", s.gate_up_ms * 1e3}, {"swiglu", s.swiglu_ms * 1e3},
                {"down", s.down_ms * 1e3}}};
  }

  // The shared expert as one expert every token is routed to: the MoE front end's routing and
  // dispatch (untimed) lay out the FP8 input rows in token order, which is exactly the FP8
  // GEMM's A operand with M-major scales; SwiGLU reads the gate-up output in that layout.
  OpMeasurement shared_expert(int T) {
    const int H = Dsv3::hidden, I = Dsv3::moe_intermediate;
    if (!shared_gate_up) {
      shared_gate_up = std::make_unique<Fp8Weight>(2 * I, H, rng);
      shared_down = std::make_unique<Fp8Weight>(H, I, rng);
    }
    MoeConfig c;
    c.num_experts = 1;
    c.top_k = 1;
    c.align_m = 64;
    MoeWorkspace ws(c, T);
    const MoeRouting r = ws.routing();
    const MoeFp8Rows xq = ws.xq(T), aq = ws.aq(T);
    DeviceBuffer idx(static_cast<std::size_t>(T) * 4), x(static_cast<std::size_t>(T) * H * 2);
    idx.upload(std::vector<std::int32_t>(T, 0));
    x.upload(random_bf16(static_cast<std::size_t>(T) * H, rng));
    moe_route(c, T, idx.ptr(), r);
    moe_dispatch(c, T, x.ptr(), r, xq);

    const GemmFp8Args gu = fp8_gemm_args(xq, *shared_gate_up, ws.h(), T);
    const GemmFp8Args dn = fp8_gemm_args(aq, *shared_down, ws.y(), T);
    const double gu_us = timer.median_ms([&] { gemm_fp8_nt(gu); }, iters) * 1e3;
    const double sw_us = timer.median_ms([&] { moe_swiglu(c, T, ws.h(), r, aq); }, iters) * 1e3;
    const double dn_us = timer.median_ms([&] { gemm_fp8_nt(dn); }, iters) * 1e3;
    return {T, {{"gate_up", gu_us}, {"swiglu", sw_us}, {"down", dn_us}}};
  }

  OpMeasurement decode_attention(int batch, int context, int num_sms) {
    if (!qkv_a) {
      qkv_a = std::make_unique<Fp8Weight>(Dsv3::qkv_a_n, Dsv3::hidden, rng);
      q_b = std::make_unique<Fp8Weight>(Dsv3::q_b_n, Dsv3::q_lora_rank, rng);
      o_proj = std::make_unique<Fp8Weight>(Dsv3::hidden, Dsv3::o_proj_k, rng);
    }
    const MlaConfig mc{Dsv3::heads, 1, Dsv3::page_size, MlaKvDtype::bf16};
    // Every request at `context` tokens; pages placed at random in the cache.
    const int per_seq = (context + Dsv3::page_size - 1) / Dsv3::page_size;
    const int num_blocks = batch * per_seq;
    std::vector<std::int32_t> lens(batch, context), table(static_cast<std::size_t>(num_blocks));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng);
    DeviceBuffer cache(static_cast<std::size_t>(num_blocks) * Dsv3::page_size *
                       mla_kv_row_bytes(mc.kv_dtype));
    cache.fill_bytes(0x3a);   // small positive BF16 pairs, not zeros
    DeviceBuffer d_table(table.size() * 4), d_lens(lens.size() * 4);
    d_table.upload(table);
    d_lens.upload(lens);
    const MlaBenchCall call(mc, batch, num_sms,
                            {cache.ptr(), d_table.ptr(), d_lens.ptr(), num_blocks, per_seq});
    const MlaDecodeArgs& a = call.args();
    validate(mc, a, num_sms);
    const double mla_us = timer.median_ms([&] { mla_decode(mc, a, nullptr); }, iters) * 1e3;
    return {batch,
            {{"qkv_a_proj", time_fp8_gemm(timer, *qkv_a, batch, iters, rng)},
             {"q_b_proj", time_fp8_gemm(timer, *q_b, batch, iters, rng)},
             {"mla_decode", mla_us},
             {"o_proj", time_fp8_gemm(timer, *o_proj, batch, iters, rng)}}};
  }
};

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

void run(const Options& opt) {
  // Host checks first: a bad argument or base is exit 2 whether or not there is a GPU.
  if (opt.iters < 1 || opt.iters > 1000)
    fail(Errc::invalid_argument, "--iters " + std::to_string(opt.iters) + ": must be in [1, 1000]");
  check_output_folder("--out", opt.out);
  const nlohmann::json base = read_base_profile(opt.base);
  std::vector<EpCommRun> comm;
  for (const std::string& path : opt.comm) comm.push_back(read_ep_comm_run(path));
  const ProfilePlan plan = plan_profile(base, opt.base, opt.context, comm);

  std::string why;
  if (!driver_available(&why)) {
    std::cerr << "shapejit bench profile: needs a CUDA GPU: " << why << " (" << opt.out
              << " not written)\n";
    throw ExitCode{kExitFailure};
  }
  try {
    const DeviceInfo& dev = current_device();
    Bench bench(opt.iters);
    std::vector<std::vector<OpMeasurement>> results;
    for (const PlannedOp& p : plan.measure) {
      std::cerr << "bench profile: " << p.phase << "." << p.op << " at " << join(p.tokens)
                << " tokens\n";
      std::vector<OpMeasurement> rows;
      for (int T : p.tokens) {
        switch (p.kernel) {
          case ProfileKernel::moe_experts: rows.push_back(bench.moe_experts(T)); break;
          case ProfileKernel::shared_expert: rows.push_back(bench.shared_expert(T)); break;
          case ProfileKernel::mla_decode_attention:
            rows.push_back(bench.decode_attention(T, opt.context, dev.num_sms));
            break;
        }
      }
      results.push_back(std::move(rows));
    }
    std::string command =
        "shapejit bench profile --base " + opt.base + " --context " + std::to_string(opt.context);
    for (const std::string& path : opt.comm) command += " --comm " + path;
    const nlohmann::json profile =
        assemble_profile(base, opt.base, plan, results, dev.name, dev.num_sms, command);
    write_file_atomically(opt.out, profile.dump(2) + "\n");
    const auto report =
        profile_report(plan, results, dev.name, dev.num_sms, opt.out, opt.base, opt.context);
    if (opt.json)
      std::cout << report.dump() << "\n";
    else
      print_profile_table(std::cout, report);
  } catch (const Error& e) {
    std::cerr << "shapejit bench profile: " << e.what() << " (" << opt.out << " not written)\n";
    throw ExitCode{kExitFailure};
  }
}

}  // namespace

void add_bench_profile(CLI::App& bench) {
  auto opt = std::make_shared<Options>();
  auto* cmd = bench.add_subcommand(
      "profile",
      "Measure moe_gemm, shared_expert and decode attention at t/4..2t tokens per phase of a base "
      "cost profile and write a cost profile for `shapejit plan overlap`");
  cmd->add_option("--out", opt->out, "cost profile to write (only after every measurement succeeded)")
      ->required();
  cmd->add_option("--base", opt->base,
                  "cost profile giving the phases and token counts and the ops not measured "
                  "(e.g. planner/profiles/h800_deepseek_v3_single_node_ep8.json)")
      ->required();
  cmd->add_option("--context", opt->context,
                  "KV length of every request in the decode attention measurement (default 4096)");
  cmd->add_option("--iters", opt->iters, "timed runs per kernel, median reported (default 10)");
  cmd->add_option("--comm", opt->comm,
                  "`shapejit bench ep --json --sweep [--phase P]` output (rank 0's, or every rank's) whose "
                  "dispatch/combine go into the profile as measured (repeatable, one per phase; without it "
                  "they are carried from --base)");
  cmd->add_flag("--json", opt->json, "Print one JSON line instead of the table");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace shapejit::cli
