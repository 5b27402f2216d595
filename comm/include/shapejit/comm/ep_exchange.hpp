#pragma once
// The expert-parallel dispatch and combine of one MoE layer over an EpGroup (orderings and the
// host oracle: ep_layout.hpp / ep_low_latency.hpp).
//
// Normal mode (prefill): layout kernels → count exchange (tokens, ids out of range and entries
// per local expert for each peer; the host waits for it, polling NCCL's async error) → one
// grouped ncclSend/ncclRecv of FP8 rows, 1×128 scales and routing info (BF16 tokens are
// quantized into the send rows; FP8 tokens are copied there with their scales) → receive routing
// (moe_route, contiguous, align_m) → permute into the grouped GEMM's FP8 rows. Combine reduces
// each received row's expert outputs with its weights in FP32 (moe_combine), returns one BF16
// row per received row, and the source adds its partial rows in FP32 (ascending rank).
// Low-latency mode (decode): fixed blocks of max_tokens rows per peer, masked layout with
// `capacity` rows per local expert, overflow counted on the device, no host synchronization:
// dispatch_low_latency and combine_low_latency can be captured in a CUDA graph.
//
// All of it runs on the exchange's own stream; the caller's stream waits for it by events.
// The expert computation between dispatch and combine uses expert_config() and workspace():
// moe_gate_up/moe_swiglu/moe_down with num_tokens = received_rows().
#include <cuda.h>

#include <memory>
#include <vector>

#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/ep_header.hpp"
#include "shapejit/comm/ep_placement.hpp"
#include "shapejit/runtime/ep.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::comm {

struct EpExchangeConfig {
  int hidden = 7168;
  int intermediate = 2048;   // for expert_config() (the GEMMs between dispatch and combine)
  int top_k = 8;
  int max_tokens = 4096;     // tokens per rank per call (low-latency: the fixed block)
  EpMode mode = EpMode::normal;
  int align_m = 128;         // normal: the contiguous grouped GEMM's M tile (64, 128, 256)
  int capacity = 0;          // low-latency: rows per local expert (a multiple of 64)
};

// Device counters of the exchange since the last take_counters().
struct EpCounters {
  long long bad_ids = 0;               // top-k ids outside [−1, num_experts) (treated as none)
  long long overflow = 0;              // low-latency entries dropped past capacity
  std::vector<int> overflow_per_expert;
};

class EpExchange {
 public:
  // Uploads the placement, allocates every buffer for max_tokens, and checks (all-gather of
  // EpHeader) that every rank was set up alike: a mismatch throws the same Error on every rank.
  EpExchange(EpGroup& group, const EpPlacement& placement, const EpExchangeConfig& config,
             runtime::Runtime& runtime = runtime::Runtime::global());
  ~EpExchange();
  EpExchange(const EpExchange&) = delete;
  EpExchange& operator=(const EpExchange&) = delete;

  // The receive side's MoE layer: num_experts = experts_per_rank, expert_begin 0.
  const runtime::MoeConfig& expert_config() const;
  runtime::MoeWorkspace& workspace();
  CUstream comm_stream() const;
  // Rows the last dispatch received (low-latency: ranks · max_tokens, fixed).
  int received_rows() const;

  // Normal mode: x [T, H] BF16, topk_idx [T, k] int32, topk_weights [T, k] FP32. Blocks the
  // host until the count exchange is in (Error(driver) after the group's timeout when a peer
  // stalls; Error(invalid_argument) on every rank when any rank routed an id out of range).
  int dispatch(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
               CUstream stream);
  // The same with tokens given as BF16 or as FP8 + 1x128 scales (runtime::EpTokens, either
  // scale layout): FP8 rows and their scales are sent as given, never re-quantized, and land
  // in the grouped GEMM's layout exactly as quantized BF16 tokens do. Bad tokens (dtype, scale
  // layout, stride, alignment) throw Error(invalid_argument) before anything is enqueued.
  int dispatch(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
               CUstream stream);
  // y: the down GEMM's output [rows, H] BF16 (workspace().y() by default) → out [T, H] BF16.
  void combine(CUdeviceptr y, CUdeviceptr out, CUstream stream);

  void dispatch_low_latency(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx,
                            CUdeviceptr topk_weights, CUstream stream);
  void dispatch_low_latency(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx,
                            CUdeviceptr topk_weights, CUstream stream);
  void combine_low_latency(CUdeviceptr y, CUdeviceptr out, CUstream stream);

  // Reads and resets the device counters (synchronizes the exchange's stream).
  EpCounters take_counters();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shapejit::comm
