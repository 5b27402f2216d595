#pragma once
// The MoE stages `shapejit bench moe` and `shapejit bench profile` both time: random FP8 expert
// weights, top-k routing (uniform or Zipf), and one token count's stages on one GPU.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bench_timing.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::cli {

// Each token picks top_k distinct experts of num_experts, uniformly or Zipf(s = 1.2).
std::vector<int> moe_bench_routing(int tokens, int top_k, int num_experts, bool zipf, unsigned seed);

// Random E4M3 bytes, magnitudes 1/8..8 of either sign (values do not matter for
// timing): a 1 MiB random tile repeated.
std::vector<std::uint8_t> random_fp8_bytes(std::size_t n, std::mt19937& rng);

// BF16 activations, roughly N(0, 1): a 64 Ki-element random tile repeated (fast at any size).
std::vector<std::uint16_t> random_bf16(std::size_t n, std::mt19937& rng);

// Expert weights in the MoE front end's format, random FP8 with 1e-3 block scales.
struct MoeBenchWeights {
  MoeBenchWeights(const runtime::MoeConfig& c, std::mt19937& rng);
  runtime::MoeWeights view() const { return {w13.ptr(), w13s.ptr(), w2.ptr(), w2s.ptr()}; }
  runtime::DeviceBuffer w13, w2, w13s, w2s;
};

// Milliseconds per stage (median); gate_up / down stay NaN with gemm_note set when the grouped
// GEMM is unsupported on this device. Untimed stages (all_stages false: route, dispatch,
// combine) run once to set up and stay NaN.
struct MoeStageTimes {
  double route_ms = NAN, dispatch_ms = NAN, gate_up_ms = NAN, swiglu_ms = NAN, down_ms = NAN,
         combine_ms = NAN;
  int padded_rows = 0;   // rows the grouped GEMMs cover (expert ranges padded to align_m)
  std::string gemm_note;
};

// Runs the MoE layer's stages for `tokens` tokens routed by topk ([tokens, top_k] global ids).
// With all_stages false only the expert compute (gate-up, SwiGLU, down) is timed and an
// unsupported grouped GEMM throws instead of being noted.
MoeStageTimes time_moe_stages(BenchTimer& timer, const runtime::MoeConfig& c,
                              const runtime::MoeWeights& weights, int tokens,
                              const std::vector<int>& topk, int iters, bool all_stages,
                              std::mt19937& rng);

}  // namespace shapejit::cli
