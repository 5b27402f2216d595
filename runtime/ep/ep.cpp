// Front end of the expert-parallel exchange kernels: checks, specs and launches.
#include "shapejit/runtime/ep.hpp"

#include <algorithm>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime {
namespace {

using jit::KernelSpec;
constexpr int kTokensPerBlock = 1024;
constexpr int kLayoutThreads = 256;

[[noreturn]] void bad(const std::string& what) { fail(Errc::invalid_argument, "ep: " + what); }

std::string arch_of(const DeviceInfo& t) { return t.arch.empty() ? "sm_90a" : t.arch; }

KernelSpec ep_spec(const DeviceInfo& t, std::string_view kernel, const jit::NamedValues& values) {
  return jit::find_kernel_definition("ep", kernel).spec(values, arch_of(t));
}

KernelSpec layout_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return ep_spec(t, "ep_dispatch_layout", {{"NUM_RANKS", c.num_ranks}, {"EXPERTS_PER_RANK", c.experts_per_rank},
                                           {"TOP_K", c.top_k}, {"TOKENS_PER_BLOCK", kTokensPerBlock}});
}
KernelSpec offsets_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return ep_spec(t, "ep_send_offsets", {{"NUM_RANKS", c.num_ranks}, {"EXPERTS_PER_RANK", c.experts_per_rank}});
}
KernelSpec rows_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return ep_spec(t, "ep_send_rows", {{"NUM_RANKS", c.num_ranks}, {"EXPERTS_PER_RANK", c.experts_per_rank},
                                     {"TOP_K", c.top_k}, {"TOKENS_PER_BLOCK", kTokensPerBlock},
                                     {"LOW_LATENCY", c.low_latency}});
}
// The pack is the MoE family's dispatch kernel with row-major scales (the wire format).
KernelSpec pack_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return jit::find_kernel_definition("moe", "moe_dispatch_fp8")
      .spec({{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}, {"SCALE_M_MAJOR", false}}, arch_of(t));
}
KernelSpec fp8_rows_spec(const EpKernelConfig& c, const DeviceInfo& t, bool scales_m_major) {
  return ep_spec(t, "ep_send_fp8_rows", {{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}, {"SCALE_M_MAJOR", scales_m_major}});
}
KernelSpec permute_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return ep_spec(t, "ep_recv_permute", {{"HIDDEN", c.hidden}});
}
KernelSpec overflow_spec(const EpKernelConfig& c, const DeviceInfo& t) {
  return ep_spec(t, "ep_count_overflow", {{"NUM_EXPERTS", c.experts_per_rank}});
}

const void* as_ptr(CUdeviceptr p) { return reinterpret_cast<const void*>(p); }

void need(CUdeviceptr p, const char* name) {
  if (!p) bad(std::string(name) + " is null");
}

void check_tokens(const EpKernelConfig& c, int num_tokens) {
  validate(c);
  if (num_tokens < 0) bad("num_tokens = " + std::to_string(num_tokens) + " must be >= 0");
  if (c.low_latency && num_tokens > c.max_tokens)
    bad("num_tokens = " + std::to_string(num_tokens) + " exceeds the low-latency block max_tokens = " +
        std::to_string(c.max_tokens));
}

}  // namespace

void validate(const EpKernelConfig& c) {
  if (c.num_ranks < 1 || c.num_ranks > 64) bad("num_ranks = " + std::to_string(c.num_ranks) + " must be in [1, 64]");
  if (c.experts_per_rank < 1 || c.num_ranks * c.experts_per_rank > 4096)
    bad("experts_per_rank = " + std::to_string(c.experts_per_rank) + " must be >= 1 with ranks · slots <= 4096");
  if (c.num_experts < 1 || c.num_experts > c.num_ranks * c.experts_per_rank)
    bad("num_experts = " + std::to_string(c.num_experts) + " must be in [1, ranks · experts_per_rank]");
  if (c.max_replicas < 1) bad("max_replicas = " + std::to_string(c.max_replicas) + " must be >= 1");
  if (c.top_k < 1 || c.top_k > 32) bad("top_k = " + std::to_string(c.top_k) + " must be in [1, 32]");
  if (c.hidden < 512 || c.hidden % 512 != 0 || c.hidden > 16384)
    bad("hidden = " + std::to_string(c.hidden) + " must be a positive multiple of 512, at most 16384");
  if (c.low_latency && c.max_tokens < 1) bad("low-latency mode needs max_tokens >= 1");
}

int ep_tokens_per_block() { return kTokensPerBlock; }
int ep_layout_blocks(int num_tokens) { return num_tokens <= 0 ? 1 : (num_tokens + kTokensPerBlock - 1) / kTokensPerBlock; }

void ep_dispatch_layout(const EpKernelConfig& c, int num_tokens, int rank, CUdeviceptr topk_idx,
                        CUdeviceptr topk_weights, CUdeviceptr log2phy, CUdeviceptr logcnt,
                        const EpDispatchLayout& l, CUstream stream, Runtime& runtime) {
  check_tokens(c, num_tokens);
  if (rank < 0 || rank >= c.num_ranks) bad("rank = " + std::to_string(rank) + " outside [0, num_ranks)");
  for (auto [p, n] : {std::pair{topk_idx, "topk_idx"}, {topk_weights, "topk_weights"}, {log2phy, "log2phy"},
                      {logcnt, "logcnt"}, {l.slot, "slot"}, {l.token_dest, "token_dest"}, {l.token_pos, "token_pos"},
                      {l.block_counts, "block_counts"}, {l.block_expert_counts, "block_expert_counts"},
                      {l.block_offset, "block_offset"}, {l.send_offset, "send_offset"}, {l.counts, "counts"},
                      {l.token_rows, "token_rows"}, {l.send_expert, "send_expert"}, {l.send_weight, "send_weight"},
                      {l.bad_ids, "bad_ids"}})
    need(p, n);
  const DeviceInfo& dev = current_device();
  const int blocks = ep_layout_blocks(num_tokens);
  if (c.low_latency)
    SHAPEJIT_CU(driver().cuMemsetD32Async(l.send_expert, 0xffffffffu,
                                          std::size_t(c.num_ranks) * c.max_tokens * c.top_k, stream));
  launch_1d(runtime, layout_spec(c, dev), blocks, kLayoutThreads, stream, as_ptr(topk_idx), num_tokens, rank,
                c.num_experts, as_ptr(log2phy), as_ptr(logcnt), c.max_replicas,
                as_ptr(l.slot), as_ptr(l.token_dest), as_ptr(l.token_pos), as_ptr(l.block_counts),
                as_ptr(l.block_expert_counts), as_ptr(l.bad_ids));
  launch_1d(runtime, offsets_spec(c, dev), 1, kLayoutThreads, stream, as_ptr(l.block_counts),
                as_ptr(l.block_expert_counts), blocks, as_ptr(l.bad_ids), as_ptr(l.block_offset), as_ptr(l.send_offset),
                as_ptr(l.counts));
  if (num_tokens == 0) return;
  launch_1d(runtime, rows_spec(c, dev), (num_tokens + kLayoutThreads - 1) / kLayoutThreads, kLayoutThreads,
                stream, as_ptr(l.slot), as_ptr(l.token_dest), as_ptr(l.token_pos), as_ptr(topk_weights),
                num_tokens, as_ptr(l.block_offset), as_ptr(l.send_offset), c.max_tokens, as_ptr(l.token_rows),
                as_ptr(l.send_expert), as_ptr(l.send_weight));
}

void ep_pack_fp8(const EpKernelConfig& c, int num_tokens, CUdeviceptr x, CUdeviceptr token_rows,
                 CUdeviceptr send_fp8, CUdeviceptr send_scales, CUstream stream, Runtime& runtime) {
  check_tokens(c, num_tokens);
  need(x, "x"); need(token_rows, "token_rows"); need(send_fp8, "send_fp8"); need(send_scales, "send_scales");
  if (x % 16 || send_fp8 % 16) bad("x and send_fp8 must be 16-byte aligned");
  if (num_tokens == 0) return;
  launch_1d(runtime, pack_spec(c, current_device()), num_tokens, c.hidden / 16, stream, as_ptr(x), num_tokens,
                as_ptr(token_rows), as_ptr(send_fp8), as_ptr(send_scales), c.hidden / 128);
}

void validate(const EpKernelConfig& c, int num_tokens, const EpTokens& x) {
  check_tokens(c, num_tokens);
  if (x.dtype != DType::bf16 && x.dtype != DType::e4m3)
    bad(std::string("tokens dtype ") + to_string(x.dtype) + " is not supported (bf16, or e4m3 with scales)");
  if (num_tokens > 0) need(x.data, "tokens");
  if (x.data % 16) bad("tokens must be 16-byte aligned");
  if (x.dtype == DType::bf16) {
    if (x.scales) bad("BF16 tokens take no scales (they are quantized on the way out)");
    return;
  }
  if (x.group_size != 128)
    bad("FP8 tokens need 1x128 scales (the wire format and the grouped GEMM's); group size " +
        std::to_string(x.group_size) + " given");
  if (num_tokens > 0) need(x.scales, "scales");
  if (x.scales % 4) bad("scales must be 4-byte aligned");
  const int groups = c.hidden / 128;
  if (x.scale_layout == ScaleLayout::row_major) {
    if (x.scale_stride != 0 && x.scale_stride != groups)
      bad("row-major scales are [T, hidden/128] = [T, " + std::to_string(groups) + "]; scale_stride " +
          std::to_string(x.scale_stride) + " given");
  } else if (x.scale_layout == ScaleLayout::m_major) {
    if (x.scale_stride != 0 && (x.scale_stride < num_tokens || x.scale_stride % 4 != 0))
      bad("M-major scales need scale_stride a multiple of 4 and >= num_tokens = " + std::to_string(num_tokens) +
          "; " + std::to_string(x.scale_stride) + " given");
  } else {
    bad("unknown scale layout");
  }
  if (ep_input_scale_stride(c, num_tokens, x) > (1LL << 31) / std::max(1, groups))
    bad("scale_stride " + std::to_string(x.scale_stride) + " is too large for 32-bit indexing");
}

long long ep_input_scale_stride(const EpKernelConfig& c, int num_tokens, const EpTokens& x) {
  if (x.scale_layout == ScaleLayout::row_major) return c.hidden / 128;
  return x.scale_stride ? x.scale_stride : (num_tokens + 3LL) / 4 * 4;
}

void ep_pack_tokens(const EpKernelConfig& c, int num_tokens, const EpTokens& x, CUdeviceptr token_rows,
                    CUdeviceptr send_fp8, CUdeviceptr send_scales, CUstream stream, Runtime& runtime) {
  validate(c, num_tokens, x);
  if (x.dtype == DType::bf16) {
    ep_pack_fp8(c, num_tokens, x.data, token_rows, send_fp8, send_scales, stream, runtime);
    return;
  }
  need(token_rows, "token_rows"); need(send_fp8, "send_fp8"); need(send_scales, "send_scales");
  if (send_fp8 % 16) bad("send_fp8 must be 16-byte aligned");
  if (num_tokens == 0) return;
  const bool m_major = x.scale_layout == ScaleLayout::m_major;
  launch_1d(runtime, fp8_rows_spec(c, current_device(), m_major), num_tokens, c.hidden / 16, stream, as_ptr(x.data),
            as_ptr(x.scales), static_cast<int>(ep_input_scale_stride(c, num_tokens, x)), num_tokens,
            as_ptr(token_rows), as_ptr(send_fp8), as_ptr(send_scales));
}

void ep_recv_permute(const EpKernelConfig& c, int num_rows, CUdeviceptr recv_fp8, CUdeviceptr recv_scales,
                     CUdeviceptr row_to_recv, CUdeviceptr xq, CUdeviceptr xq_scales, long long scale_stride,
                     CUstream stream, Runtime& runtime) {
  validate(c);
  if (num_rows < 0) bad("num_rows = " + std::to_string(num_rows));
  if (scale_stride < num_rows) bad("scale_stride = " + std::to_string(scale_stride) + " is below num_rows");
  need(recv_fp8, "recv_fp8"); need(recv_scales, "recv_scales"); need(row_to_recv, "row_to_recv");
  need(xq, "xq"); need(xq_scales, "xq_scales");
  if (recv_fp8 % 16 || xq % 16) bad("recv_fp8 and xq must be 16-byte aligned");
  if (num_rows == 0) return;
  launch_1d(runtime, permute_spec(c, current_device()), num_rows, c.hidden / 16, stream, as_ptr(recv_fp8),
                as_ptr(recv_scales), as_ptr(row_to_recv), num_rows, as_ptr(xq), as_ptr(xq_scales),
                static_cast<int>(scale_stride));
}

void ep_count_overflow(const EpKernelConfig& c, CUdeviceptr route_block_counts, int route_blocks, int capacity,
                       CUdeviceptr overflow, CUstream stream, Runtime& runtime) {
  validate(c);
  need(route_block_counts, "route_block_counts"); need(overflow, "overflow");
  if (route_blocks < 1 || capacity < 1) bad("route_blocks and capacity must be positive");
  launch_1d(runtime, overflow_spec(c, current_device()), 1, 256, stream, as_ptr(route_block_counts),
                route_blocks, capacity, as_ptr(overflow));
}

std::vector<jit::KernelSpec> ep_kernel_specs(const EpKernelConfig& c, const DeviceInfo& target,
                                             const EpTokens& input) {
  validate(c);
  if (input.dtype != DType::bf16 && input.dtype != DType::e4m3)
    bad(std::string("tokens dtype ") + to_string(input.dtype) + " is not supported (bf16, or e4m3 with scales)");
  std::vector<jit::KernelSpec> specs = {
      layout_spec(c, target), offsets_spec(c, target), rows_spec(c, target),
      input.dtype == DType::bf16 ? pack_spec(c, target)
                                 : fp8_rows_spec(c, target, input.scale_layout == ScaleLayout::m_major),
      permute_spec(c, target)};
  if (c.low_latency) specs.push_back(overflow_spec(c, target));
  return specs;
}

}  // namespace shapejit::runtime
