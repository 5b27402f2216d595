#pragma once
// The expert-parallel exchange's kernels on one GPU (templates/ep/): the dispatch layout, the
// FP8 pack into the send buffer, the receive-side permute into the grouped GEMM's buffer, and
// low-latency mode's overflow count. comm/ (EpExchange) puts NCCL between them; the orderings
// and the host oracle are comm/ep_layout.hpp's. Like the MoE family, every call validates its
// arguments, then loads (compiles on a miss) and launches on `stream` without synchronizing.
//
// These kernels have not run on a GPU yet (see bench/RESULTS.md): no manifest op lists them, so
// they are no default of the DeepSeek-V3 set.
#include <cuda.h>

#include <vector>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

struct EpKernelConfig {
  int num_ranks = 1;
  int experts_per_rank = 1;   // physical slots per rank
  int num_experts = 1;        // logical experts
  int max_replicas = 1;       // width of the device log2phy table
  int top_k = 1;
  int hidden = 7168;
  bool low_latency = false;
  int max_tokens = 0;         // low-latency: rows of each destination's fixed block
};

// Throws Error(invalid_argument) naming the first field out of range.
void validate(const EpKernelConfig& config);

// The tokens a dispatch sends: BF16 (quantized to the FP8 wire format on the way out) or FP8
// E4M3 with FP32 1x128 scales as quantize_fp8_per_token_group writes them (either layout), sent
// as given. Either way the receiver gets FP8 rows with row-major scales on the wire and the same
// grouped-GEMM layout.
struct EpTokens {
  DType dtype = DType::bf16;                      // bf16 or e4m3
  CUdeviceptr data = 0;                           // [T, hidden] row-major, 16-byte aligned
  CUdeviceptr scales = 0;                         // e4m3: FP32, 4-byte aligned
  ScaleLayout scale_layout = ScaleLayout::row_major;
  // Floats between consecutive tokens (row_major: 0 or hidden/128) or scale groups (m_major: 0 =
  // align_up(T, 4), else a multiple of 4 that is >= T).
  long long scale_stride = 0;
  int group_size = 128;                           // columns per scale; the wire format's 128
};
// Throws Error(invalid_argument) naming the problem (dtype, null or misaligned pointer, group
// size, scale layout or stride) before any driver call.
void validate(const EpKernelConfig& config, int num_tokens, const EpTokens& tokens);
// The scale stride the copy uses (the default resolved).
long long ep_input_scale_stride(const EpKernelConfig& config, int num_tokens, const EpTokens& tokens);
int ep_tokens_per_block();                        // 1024
int ep_layout_blocks(int num_tokens);             // ≥ 1

// Device arrays of the dispatch layout (int32 unless said otherwise).
struct EpDispatchLayout {
  CUdeviceptr slot = 0;                 // [T, k]
  CUdeviceptr token_dest = 0;           // [T, k]
  CUdeviceptr token_pos = 0;            // [T, k]
  CUdeviceptr block_counts = 0;         // [blocks, R]
  CUdeviceptr block_expert_counts = 0;  // [blocks, R·L]
  CUdeviceptr block_offset = 0;         // [blocks, R]
  CUdeviceptr send_offset = 0;          // [R + 1]
  CUdeviceptr counts = 0;               // [R, 2 + L] the count-exchange table (tokens, bad ids, per expert)
  CUdeviceptr token_rows = 0;           // [T, k]
  CUdeviceptr send_expert = 0;          // [send rows, k]
  CUdeviceptr send_weight = 0;          // [send rows, k] FP32
  CUdeviceptr bad_ids = 0;              // [1] ids out of range (accumulates)
};

// topk_idx [T, k] int32 logical ids, topk_weights [T, k] FP32, log2phy [E, max_replicas] and
// logcnt [E] int32 on the device. Launches ep_dispatch_layout, ep_send_offsets, ep_send_rows
// (low-latency: send_expert is first set to −1 over R · max_tokens rows).
void ep_dispatch_layout(const EpKernelConfig& config, int num_tokens, int rank, CUdeviceptr topk_idx,
                        CUdeviceptr topk_weights, CUdeviceptr log2phy, CUdeviceptr logcnt,
                        const EpDispatchLayout& layout, CUstream stream = nullptr,
                        Runtime& runtime = Runtime::global());

// x [T, H] BF16 → send rows (FP8, row-major 1×128 scales [rows, H/128]) following token_rows.
void ep_pack_fp8(const EpKernelConfig& config, int num_tokens, CUdeviceptr x, CUdeviceptr token_rows,
                 CUdeviceptr send_fp8, CUdeviceptr send_scales, CUstream stream = nullptr,
                 Runtime& runtime = Runtime::global());

// The send rows of `tokens` following token_rows: BF16 tokens through ep_pack_fp8, FP8 tokens
// copied with their scales (ep_send_fp8_rows, the variant of their scale layout).
void ep_pack_tokens(const EpKernelConfig& config, int num_tokens, const EpTokens& tokens, CUdeviceptr token_rows,
                    CUdeviceptr send_fp8, CUdeviceptr send_scales, CUstream stream = nullptr,
                    Runtime& runtime = Runtime::global());

// Received rows → expert-major FP8 rows with M-major scales (scale_stride) by row_to_recv.
void ep_recv_permute(const EpKernelConfig& config, int num_rows, CUdeviceptr recv_fp8,
                     CUdeviceptr recv_scales, CUdeviceptr row_to_recv, CUdeviceptr xq,
                     CUdeviceptr xq_scales, long long scale_stride, CUstream stream = nullptr,
                     Runtime& runtime = Runtime::global());

// overflow [L + 1]: adds entries past `capacity` per local expert and in total.
void ep_count_overflow(const EpKernelConfig& config, CUdeviceptr route_block_counts, int route_blocks,
                       int capacity, CUdeviceptr overflow, CUstream stream = nullptr,
                       Runtime& runtime = Runtime::global());

// The EP-family specs (plus the MoE pack spec it borrows for BF16 tokens) a config loads for
// tokens of `input`'s dtype and scale layout, in launch order.
std::vector<jit::KernelSpec> ep_kernel_specs(const EpKernelConfig& config, const DeviceInfo& target,
                                             const EpTokens& input = {});

}  // namespace shapejit::runtime
