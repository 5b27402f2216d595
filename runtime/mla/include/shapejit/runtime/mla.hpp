#pragma once
// MLA decode (multi-head latent attention over a paged KV cache), FlashMLA's dense-decode
// semantics. Three kernels (templates/mla/): a scheduler on the GPU (mla_decode_metadata), the
// split-KV attention kernel and a combine kernel that merges the splits of a request by their
// log-sum-exp. Layouts and design: docs/mla.md.
//
//   q            [batch, s_q, h_q, 576] BF16 (512 latent + 64 RoPE dims)
//   k_cache      [num_blocks, page_size, 1, row] — row = 576 BF16 (1152 B), or FP8:
//                512 E4M3, 4 FP32 scales (one per 128 values, value = e4m3 · scale),
//                64 BF16 RoPE dims (656 B). V is the first 512 dims of the same row.
//   block_table  [batch, max_blocks_per_seq] int32;  cache_seqlens [batch] int32
//   out          [batch, s_q, h_q, 512] BF16;  lse [batch, h_q, s_q] FP32 (natural log)
// Query i of a request (s_q > 1) sees the first seqlen − s_q + 1 + i keys; a query with no
// visible key gives out = 0 and lse = +inf.
//
// Every function validates its inputs before any driver call and throws
// Error(invalid_argument) naming the problem.
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tuned_configs.hpp"

namespace shapejit::runtime {

inline constexpr int kMlaHeadDim = 576;      // K row: 512 latent + 64 RoPE
inline constexpr int kMlaValueDim = 512;     // V = first 512 dims of the K row
inline constexpr int kMlaBlockN = 64;        // KV tokens per tile (the scheduler's unit)
inline constexpr int kMlaBlockM = 64;        // query rows (heads × s_q) per tile
inline constexpr int kMlaSplitOverhead = 5;  // fixed cost of one split, in KV tiles

enum class MlaKvDtype { bf16, fp8_e4m3 };

// How the split kernel loads Q and KV tiles. cp_async (mla_decode_split, decode_split.cuh):
// per-thread cp.async for BF16, loads + dequantisation for FP8; the path every recorded GPU run
// tested. tma (mla_decode_split_tma, decode_split_tma.cuh): TMA for Q and BF16 tiles, bulk
// copies of FP8 rows; not yet run on a GPU, so never the default until a run proves it.
enum class MlaLoadPath { cp_async, tma };

// The compile-time part of a call: one kernel set per config and device.
struct MlaConfig {
  int num_heads_q = 128;   // h_q: 16, 32, 64 or 128 (h_kv = 1)
  int seq_q = 1;           // s_q: 1..8 query tokens per request (multi-token prediction)
  int page_size = 64;      // tokens per cache block: 16, 32, 64 or 128
  MlaKvDtype kv_dtype = MlaKvDtype::bf16;
  MlaLoadPath load_path = MlaLoadPath::cp_async;
};

void validate(const MlaConfig& config);                  // throws naming the field
int mla_kv_row_bytes(MlaKvDtype dtype);                  // 1152 or 656
int mla_num_m_tiles(const MlaConfig& config);            // ceil(h_q·s_q / 64)
int mla_num_sm_parts(const MlaConfig& config, int num_sms);   // max(1, num_sms / m_tiles)

// One SM part's contiguous run of KV tiles (templates/mla/decode_schedule.cuh): requests
// begin_req..min(end_req, batch − 1), starting at tile begin_block of begin_req (its split number
// first_split) and ending before tile end_block of end_req; requests in between whole. A part
// with begin_req = batch is empty. Zero-length requests belong to no part (0 splits): the
// combine kernel writes their out = 0, lse = +inf.
struct MlaSchedulePart {
  std::int32_t begin_req, begin_block, first_split, end_req, end_block, reserved[3];
};
static_assert(sizeof(MlaSchedulePart) == 32);

// The host twin of the GPU scheduler: the same plan_splits() code the metadata kernel runs.
// split_begin[b] is the first split index of request b, split_begin[batch] the total.
struct MlaSchedule {
  std::vector<MlaSchedulePart> parts;
  std::vector<std::int32_t> split_begin;
};
MlaSchedule mla_schedule_host(std::span<const std::int32_t> seqlens, int num_parts);

// Metadata buffer: num_parts MlaSchedulePart, then split_begin[batch + 1].
std::size_t mla_metadata_bytes(int batch, int num_parts);
// Workspace of the split results: o_accum [batch + num_parts, h_q·s_q, 512] FP32 and
// lse_accum [batch + num_parts, h_q·s_q] FP32 (a schedule has at most batch + parts splits).
std::size_t mla_workspace_bytes(const MlaConfig& config, int batch, int num_sms);

// The per-part cost budget of the plan (every part but the last stays within it).
int mla_part_budget(std::span<const std::int32_t> seqlens, int num_parts);

// Tuning (docs/mla.md, docs/tuning.md): a winner of a tuning session for the call's shape
// (h_q, s_q, page_size, kv_dtype) on the device names the split kernel's load path and the SMs
// the schedule partitions over (NUM_SMS, at most the device's: fewer SMs give fewer parts and
// so fewer splits per request). mla_decode_metadata and mla_decode both run what
// mla_launch_plan gives for the runtime's winners, so they always agree on the partitions.
// A winner is applied to a config on the default load path (cp_async); a config that asks for
// tma runs as asked, on the target's SMs, as does every call of a runtime without records
// (RuntimeOptions::use_tuning_records = false) or without a winner for the shape.
struct MlaLaunchPlan {
  MlaConfig config;      // the load path applied
  int num_sms = 0;       // SMs the scheduler partitions over
  bool tuned = false;    // from a winner
  bool forced = false;   // from a ForcedMlaPlan
};
// The shape text MLA decode's tuning records are keyed by (load path left out: it is tuned).
std::string mla_tuning_shape(const MlaConfig& config);
// What a call of `config` on `target` (SM limit applied) runs with the winners `tuned`
// (nullptr: none). A winner whose config does not parse or names more SMs than the target has
// is not used.
MlaLaunchPlan mla_launch_plan(const MlaConfig& config, const DeviceInfo& target, const TunedConfigs* tuned);

// For the tuner's measurements: while alive, MLA calls on this thread (mla_launch_plan, so
// mla_decode_metadata, mla_decode and mla_kernel_specs) run `load_path` on `num_sms` SMs for
// every config, whatever the config's load path and the winners say. A call on fewer SMs than
// num_sms throws Error(invalid_argument).
class ForcedMlaPlan {
 public:
  ForcedMlaPlan(MlaLoadPath load_path, int num_sms);
  ~ForcedMlaPlan();
  ForcedMlaPlan(const ForcedMlaPlan&) = delete;
  ForcedMlaPlan& operator=(const ForcedMlaPlan&) = delete;
  static const ForcedMlaPlan* current();   // this thread's innermost, or nullptr
  MlaLoadPath load_path() const { return load_path_; }
  int num_sms() const { return num_sms_; }

 private:
  const ForcedMlaPlan* previous_;
  MlaLoadPath load_path_;
  int num_sms_;
};

// Computes the schedule on the GPU from cache_seqlens (device int32 [batch]) into metadata.
// Graph-capturable; reuse the metadata across layers while the lengths are unchanged.
// Kernels come from `runtime` (its cache, compile options, SM limit and tuning winners). The SM
// limit and the winners size the schedule: give mla_decode the same runtime and limit as the
// metadata it reads. Buffers sized for the runtime's SM limit (mla_metadata_bytes with
// mla_num_sm_parts(config, num_sms), mla_workspace_bytes) are large enough for any winner.
void mla_decode_metadata(const MlaConfig& config, int batch, CUdeviceptr cache_seqlens,
                         CUdeviceptr metadata, std::size_t metadata_bytes, CUstream stream,
                         Runtime& runtime = Runtime::global());

struct MlaDecodeArgs {
  int batch = 0;
  int num_blocks = 0;              // blocks in k_cache
  int max_blocks_per_seq = 0;      // block_table row length
  float softmax_scale = 0.0f;      // 0: 1/sqrt(576)
  CUdeviceptr q = 0, k_cache = 0, block_table = 0, cache_seqlens = 0;
  CUdeviceptr out = 0, lse = 0;
  CUdeviceptr metadata = 0;        // from mla_decode_metadata (same config, batch, lengths)
  std::size_t metadata_bytes = 0;
  CUdeviceptr workspace = 0;
  std::size_t workspace_bytes = 0;
};

// Host-side checks of everything knowable without reading device memory (shapes, alignment,
// buffer sizes, block-table extent, TMA coordinate range). num_sms sizes the schedule.
void validate(const MlaConfig& config, const MlaDecodeArgs& args, int num_sms);

// Optional host-side check of a block table the caller also holds on the host (the kernels
// read it on the device and treat an out-of-range page as zeros): every page a request uses,
// ceil(len / page_size) entries, must lie in [0, num_blocks), and every length must be in
// [0, max_blocks_per_seq · page_size]. Throws Error(invalid_argument) naming the request, the
// entry and the value.
void validate_block_table(const MlaConfig& config, int batch, int max_blocks_per_seq,
                          int num_blocks, std::span<const std::int32_t> block_table,
                          std::span<const std::int32_t> cache_seqlens);

// Launches the split kernel and the combine kernel (which merges split requests and writes
// zero-length ones) on stream.
void mla_decode(const MlaConfig& config, const MlaDecodeArgs& args, CUstream stream,
                Runtime& runtime = Runtime::global());

// Threads per CTA and dynamic shared memory the split kernel of `config` is launched with
// (templates/mla/decode_split_layout.cuh).
struct MlaSplitLaunch {
  int threads = 0;
  int dynamic_smem_bytes = 0;
};
MlaSplitLaunch mla_split_launch(const MlaConfig& config);

// Exactly the specs mla_decode_metadata + mla_decode load for config on target, with the
// runtime's winners `tuned` (Runtime::tuned_configs(); nullptr: none), per mla_launch_plan.
std::vector<jit::KernelSpec> mla_kernel_specs(const MlaConfig& config, const DeviceInfo& target,
                                              const TunedConfigs* tuned = nullptr);

// FP32 CPU reference, per request over the gathered pages (accumulated in double). FP8 rows are
// dequantized the way the kernel does: e4m3 · scale rounded to BF16. Inputs as raw host bytes
// in the device layouts above; out [batch, s_q, h_q, 512] FP32, lse [batch, h_q, s_q].
// Optional outputs for error bounds (skipped when empty; rows without a visible key get 0):
// abs_out [batch, s_q, h_q, 512], A = Σ_j w_j·|v_j| with the softmax weights w of out (the
// weighted mean of |V| per column); max_abs_logit [batch, h_q, s_q], R = softmax_scale ·
// max_j Σ_d |q_d·k_jd| over the row's visible keys (bounds every |logit| and the dot products'
// accumulation error). tests/mla/mla_gpu_test.cpp states the output tolerance built on them.
void mla_decode_reference(const MlaConfig& config, int batch, int max_blocks_per_seq,
                          float softmax_scale, std::span<const std::uint16_t> q,
                          std::span<const std::uint8_t> k_cache,
                          std::span<const std::int32_t> block_table,
                          std::span<const std::int32_t> cache_seqlens, std::span<float> out,
                          std::span<float> lse, std::span<float> abs_out = {},
                          std::span<float> max_abs_logit = {});

// The tolerance of one output element against mla_decode_reference (derivation: the header of
// tests/mla/mla_gpu_test.cpp): ref and abs_out = A of the element, max_abs_logit = R of its
// row, n its visible keys. 2^-8·|ref| + (1 + 2^-8)·((1 + 2^-8)·e^(2η)·(1 + c) − 1)·A + 2^-100
// with η = mla_logit_error_bound(R, n) = (20·R + n/64 + log2 n + 2)·2^-20, c = 3n·2^-26 + 2^-19.
// The GPU tests and the tuner's reference check both use it; lse is checked to 1e-5 relative.
double mla_logit_error_bound(double max_abs_logit, int n);
double mla_out_tolerance(double ref, double abs_out, double max_abs_logit, int n);

}  // namespace shapejit::runtime
