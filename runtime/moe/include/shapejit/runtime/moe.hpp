#pragma once
// The MoE layer on one GPU: routing layout → dispatch (gather + FP8 quantization) → gate/up
// grouped GEMM → SwiGLU + FP8 quantization → down grouped GEMM → combine. Each step is its own
// call, so a caller can put the expert-parallel exchange between routing/dispatch and the
// grouped GEMMs; moe_layer() runs them all. Buffer layouts are spelled out in docs/moe.md.
//
// Every function validates all of its inputs (shape, config, pointer alignment) before it
// touches the driver and throws Error(invalid_argument) naming the problem; only then does it
// load (compile on a miss) and launch its kernels on `stream`, from `runtime` (its cache,
// compile options and SM limit; default the global one). No call synchronizes the host.
#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

enum class MoeLayout {
  contiguous,   // expert-major rows, each expert's range padded to align_m (prefill)
  masked,       // [num_experts, max_tokens_per_expert] rows + masked_m (decode, CUDA graphs)
};

// A layer's static description; only the token count changes from call to call.
struct MoeConfig {
  int hidden = 7168;             // H
  int intermediate = 2048;       // I, per expert (the gate/up GEMM has N = 2I)
  int num_experts = 32;          // local experts on this GPU (E)
  int top_k = 8;
  int expert_begin = 0;          // global id of local expert 0; other ids are not routed here
  MoeLayout layout = MoeLayout::contiguous;
  int align_m = 128;             // contiguous: the grouped GEMM's M tile (64, 128 or 256)
  int max_tokens_per_expert = 0; // masked: rows per expert (M_max); entries past it are dropped
};

// Throws Error(invalid_argument) naming the first field out of range.
void validate(const MoeConfig& config);

// Compile-time routing tile: tokens per block of the two routing kernels (4096 entries).
int moe_tokens_per_block(const MoeConfig& config);
// Blocks of the routing kernels for num_tokens tokens.
int moe_route_blocks(const MoeConfig& config, int num_tokens);
// Rows of the expert-major buffers for num_tokens tokens: contiguous, the worst case
// round_up(T·k + E·(align_m − 1), align_m); masked, E · max_tokens_per_expert.
std::int64_t moe_num_rows(const MoeConfig& config, int num_tokens);
// Row stride of the M-major FP8 scale arrays: num_rows rounded up to 4 (16-byte TMA rows).
std::int64_t moe_scale_stride(const MoeConfig& config, int num_tokens);

// Routing metadata in device memory (int32 everywhere).
struct MoeRouting {
  CUdeviceptr tokens_per_expert = 0;  // [E] rows used per expert (= masked_m)
  CUdeviceptr row_begin = 0;          // [E + 1] first row of each expert; [E] = rows in use
  CUdeviceptr m_indices = 0;          // [num_rows] expert of each row, −1 padding/unused
  CUdeviceptr row_to_token = 0;       // [num_rows] source token of each row, −1 padding/unused
  CUdeviceptr token_slot = 0;         // [T, k] row of each top-k entry, −1 not routed here
  CUdeviceptr block_counts = 0;       // [moe_route_blocks, E] workspace of the routing kernels
};

// Expert-major FP8 rows with 1×128 FP32 scales, M-major:
//   data   [num_rows, cols] E4M3, row-major;  scales[(col / 128) · scale_stride + row].
struct MoeFp8Rows {
  CUdeviceptr data = 0;
  CUdeviceptr scales = 0;
  std::int64_t scale_stride = 0;
};

// Expert weights, FP8 E4M3 with 128×128 FP32 block scales (the GEMM family's B format):
//   w13 [E, 2I, H] (rows [0, I) gate, [I, 2I) up),  w13_scales [E, 2I/128, H/128]
//   w2  [E, H, I],                                 w2_scales  [E, H/128, I/128]
struct MoeWeights {
  CUdeviceptr w13 = 0, w13_scales = 0;
  CUdeviceptr w2 = 0, w2_scales = 0;
};

// 1. Routing layout from topk_idx [T, k] int32 (global expert ids; −1 = dropped).
void moe_route(const MoeConfig& config, int num_tokens, CUdeviceptr topk_idx,
               const MoeRouting& routing, CUstream stream = nullptr,
               Runtime& runtime = Runtime::global());
// 2. Dispatch: x [T, H] BF16 → xq rows (FP8, H columns) following routing.token_slot.
void moe_dispatch(const MoeConfig& config, int num_tokens, CUdeviceptr x,
                  const MoeRouting& routing, const MoeFp8Rows& xq, CUstream stream = nullptr,
                  Runtime& runtime = Runtime::global());
// 3. Gate/up grouped GEMM: h [num_rows, 2I] BF16 = xq · w13[e]ᵀ per expert.
void moe_gate_up(const MoeConfig& config, int num_tokens, const MoeFp8Rows& xq,
                 const MoeWeights& weights, const MoeRouting& routing, CUdeviceptr h,
                 CUstream stream = nullptr, Runtime& runtime = Runtime::global());
// 4. SwiGLU + quantize: h → aq rows (FP8, I columns); rows with row_to_token −1 are skipped.
void moe_swiglu(const MoeConfig& config, int num_tokens, CUdeviceptr h, const MoeRouting& routing,
                const MoeFp8Rows& aq, CUstream stream = nullptr,
                Runtime& runtime = Runtime::global());
// 5. Down grouped GEMM: y [num_rows, H] BF16 = aq · w2[e]ᵀ per expert.
void moe_down(const MoeConfig& config, int num_tokens, const MoeFp8Rows& aq,
              const MoeWeights& weights, const MoeRouting& routing, CUdeviceptr y,
              CUstream stream = nullptr, Runtime& runtime = Runtime::global());
// 6. Combine: out [T, H] BF16, out[t] = Σ_j weights[t, j] · y[token_slot[t, j]] (FP32, j order).
void moe_combine(const MoeConfig& config, int num_tokens, CUdeviceptr y,
                 const MoeRouting& routing, CUdeviceptr topk_weights, CUdeviceptr out,
                 CUstream stream = nullptr, Runtime& runtime = Runtime::global());

// Device buffers for every intermediate of a layer, sized for up to max_tokens tokens.
class MoeWorkspace {
 public:
  MoeWorkspace(const MoeConfig& config, int max_tokens);   // needs a GPU
  // Bytes the workspace allocates (host-only arithmetic).
  static std::size_t bytes_needed(const MoeConfig& config, int max_tokens);

  int max_tokens() const { return max_tokens_; }
  // Views for a call with num_tokens ≤ max_tokens (strides depend on num_tokens).
  MoeRouting routing() const;
  MoeFp8Rows xq(int num_tokens) const;
  MoeFp8Rows aq(int num_tokens) const;
  CUdeviceptr h() const { return h_.ptr(); }
  CUdeviceptr y() const { return y_.ptr(); }

 private:
  MoeConfig config_;
  int max_tokens_;
  DeviceBuffer ints_, xq_, xq_scales_, h_, aq_, aq_scales_, y_;
};

// Steps 1–6 for num_tokens tokens: x [T, H] BF16, topk_idx [T, k] int32, topk_weights [T, k]
// FP32 → out [T, H] BF16.
void moe_layer(const MoeConfig& config, int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx,
               CUdeviceptr topk_weights, const MoeWeights& weights, CUdeviceptr out,
               MoeWorkspace& workspace, CUstream stream = nullptr,
               Runtime& runtime = Runtime::global());

// The MoE-family kernel specs a call of this config loads (routing, dispatch, SwiGLU, combine),
// in launch order. The grouped GEMMs' specs come from the GEMM family.
std::vector<jit::KernelSpec> moe_kernel_specs(const MoeConfig& config, const DeviceInfo& target);
// The two grouped FP8 GEMMs (gate/up, down) a call with num_tokens tokens loads (tuned: the
// runtime's GEMM tuning records, as gemm_spec takes them).
std::vector<jit::KernelSpec> moe_grouped_gemm_specs(const MoeConfig& config, int num_tokens,
                                                    const DeviceInfo& target,
                                                    const GemmConfigLookup* tuned = nullptr);

// Host reference of the routing layout, the oracle for moe_route.
struct MoeRoutingHost {
  std::vector<int> tokens_per_expert;  // [E]
  std::vector<int> row_begin;          // [E + 1]
  std::vector<int> m_indices;          // [num_rows]
  std::vector<int> row_to_token;       // [num_rows]
  std::vector<int> token_slot;         // [T, k]
};
MoeRoutingHost moe_route_reference(const MoeConfig& config, int num_tokens,
                                   std::span<const int> topk_idx);

}  // namespace shapejit::runtime
