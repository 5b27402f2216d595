#pragma once
// An independent host model of the whole expert-parallel exchange, written from the definition
// (not from comm/ep_layout.cpp): for every rank, which (source, token, k) entries each local
// expert processes and in which order, and what each source's combined output is.
#include <cstdint>
#include <random>
#include <vector>

#include "shapejit/comm/ep_placement.hpp"

namespace shapejit::test {

struct EpWorld {
  comm::EpPlacement placement;
  int top_k = 0;
  std::vector<int> tokens;                     // [R] tokens per rank
  std::vector<std::vector<int>> topk_idx;      // [R][T_r · k]
  std::vector<std::vector<float>> topk_weights;
};

struct EpEntry {
  int src, token, k;
  bool operator==(const EpEntry&) const = default;
};

// expected[d][le]: entries local expert le of rank d processes, in (source, token, k) order.
std::vector<std::vector<std::vector<EpEntry>>> reference_expert_entries(const EpWorld& w);

// The expert output row of (logical expert, source, token), column c: what every replica of
// that expert computes for that token.
float reference_expert_output(int expert, int src, int token, int c);

// out[s][t · cols + c] = Σ over destination ranks d ascending of
//   round(Σ over k ascending with entry k on rank d of w · expert_output(e_k, s, t, c)).
std::vector<std::vector<float>> reference_combine(const EpWorld& w, int cols, float (*round)(float));

// FP8 tokens of every rank, as a caller hands them to dispatch: E4M3 bytes and FP32 1x128
// scales in one layout (M-major: scales[g · stride[s] + t], stride >= T and a multiple of 4).
struct EpFp8Tokens {
  int hidden = 0;
  bool m_major = false;
  std::vector<std::vector<std::uint8_t>> data;   // [R][T_s · hidden]
  std::vector<std::vector<float>> scales;
  std::vector<long long> stride;                 // [R] (M-major only)
  float scale(int s, int t, int g) const;
};
// Random bytes (never the NaN codes 0x7f/0xff) and random scales that are not amax/448 of the
// bytes, so a path that re-quantized instead of copying would be caught; stride_pad extra
// floats per M-major column beyond align_up(T, 4).
EpFp8Tokens random_fp8_tokens(std::mt19937& rng, const EpWorld& w, int hidden, bool m_major, int stride_pad);

// The grouped GEMM's input on rank d as the model defines it: local expert le's entries (from
// reference_expert_entries), each the source token's bytes and scales, from row
//   normal (capacity == 0): Σ_{e < le} align_up(entries_e, align_m), padded to align_m;
//   low-latency:            le · capacity, the first `capacity` entries only;
// unused rows zero bytes with scale 1; scales M-major [hidden/128][scale_stride].
struct EpGemmFp8Input {
  int rows = 0;
  std::vector<std::uint8_t> data;
  std::vector<float> scales;
};
EpGemmFp8Input reference_gemm_input_fp8(const EpWorld& w, const EpFp8Tokens& x, int rank, int align_m,
                                        int capacity, long long scale_stride);

// A random world: skew > 0 concentrates routing on low expert ids (Zipf-like), replicas > 0
// gives that many extra slots to the heaviest experts (so experts_per_rank grows).
EpWorld random_world(std::mt19937& rng, int num_ranks, int num_experts, int top_k, int max_tokens,
                     double skew, int extra_slots_per_rank, double drop_fraction);

}  // namespace shapejit::test
