// MoE layer front end: argument checks, kernel specs and launches of the MoE-family kernels.
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/moe.hpp"

#include <string>

#include "moe_checks.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

namespace {

using jit::KernelSpec;

KernelSpec moe_spec(const DeviceInfo& target, std::string_view kernel, const jit::NamedValues& values) {
  return jit::find_kernel_definition("moe", kernel)
      .spec(values, target.arch.empty() ? "sm_90a" : target.arch);
}

KernelSpec route_count_spec(const MoeConfig& c, const DeviceInfo& t) {
  return moe_spec(t, "moe_route_count",
                  {{"NUM_EXPERTS", c.num_experts}, {"TOP_K", c.top_k},
                   {"TOKENS_PER_BLOCK", moe_tokens_per_block(c)}});
}

KernelSpec route_layout_spec(const MoeConfig& c, const DeviceInfo& t) {
  const bool masked = c.layout == MoeLayout::masked;
  return moe_spec(t, "moe_route_layout",
                  {{"NUM_EXPERTS", c.num_experts},
                   {"TOP_K", c.top_k},
                   {"TOKENS_PER_BLOCK", moe_tokens_per_block(c)},
                   {"ALIGN_M", masked ? 1 : c.align_m},
                   {"MASKED", masked}});
}

KernelSpec dispatch_spec(const MoeConfig& c, const DeviceInfo& t) {
  return moe_spec(t, "moe_dispatch_fp8",
                  {{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}, {"SCALE_M_MAJOR", true}});
}

KernelSpec swiglu_spec(const MoeConfig& c, const DeviceInfo& t) {
  return moe_spec(t, "moe_swiglu_fp8", {{"INTERMEDIATE", c.intermediate}, {"SCALE_M_MAJOR", true}});
}

KernelSpec combine_spec(const MoeConfig& c, const DeviceInfo& t) {
  return moe_spec(t, "moe_combine", {{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}});
}

const void* as_ptr(CUdeviceptr p) { return reinterpret_cast<const void*>(p); }

}  // namespace

std::vector<jit::KernelSpec> moe_kernel_specs(const MoeConfig& config, const DeviceInfo& target) {
  validate(config);
  return {route_count_spec(config, target), route_layout_spec(config, target),
          dispatch_spec(config, target), swiglu_spec(config, target), combine_spec(config, target)};
}

void moe_route(const MoeConfig& c, int num_tokens, CUdeviceptr topk_idx, const MoeRouting& r,
               CUstream stream, Runtime& runtime) {
  moe_detail::check_route(c, num_tokens, topk_idx, r);
  if (num_tokens == 0) return;
  const DeviceInfo& dev = current_device();
  const int blocks = moe_route_blocks(c, num_tokens);
  const int max_rows = c.layout == MoeLayout::masked ? c.max_tokens_per_expert : 0;
  const int num_rows = static_cast<int>(moe_num_rows(c, num_tokens));
  launch_1d(runtime, route_count_spec(c, dev), blocks, 256, stream, as_ptr(topk_idx),
                num_tokens, c.expert_begin, as_ptr(r.block_counts));
  launch_1d(runtime, route_layout_spec(c, dev), blocks, 256, stream, as_ptr(topk_idx),
                num_tokens, c.expert_begin, as_ptr(r.block_counts), max_rows, num_rows,
                as_ptr(r.tokens_per_expert), as_ptr(r.row_begin), as_ptr(r.m_indices),
                as_ptr(r.row_to_token), as_ptr(r.token_slot));
}

void moe_dispatch(const MoeConfig& c, int num_tokens, CUdeviceptr x, const MoeRouting& r,
                  const MoeFp8Rows& xq, CUstream stream, Runtime& runtime) {
  moe_detail::check_dispatch(c, num_tokens, x, r, xq);
  if (num_tokens == 0) return;
  const DeviceInfo& dev = current_device();
  launch_1d(runtime, dispatch_spec(c, dev), num_tokens, c.hidden / 16, stream, as_ptr(x),
                num_tokens, as_ptr(r.token_slot), as_ptr(xq.data), as_ptr(xq.scales),
                static_cast<int>(xq.scale_stride));
}

void moe_swiglu(const MoeConfig& c, int num_tokens, CUdeviceptr h, const MoeRouting& r,
                const MoeFp8Rows& aq, CUstream stream, Runtime& runtime) {
  moe_detail::check_swiglu(c, num_tokens, h, r, aq);
  if (num_tokens == 0) return;
  const DeviceInfo& dev = current_device();
  const int num_rows = static_cast<int>(moe_num_rows(c, num_tokens));
  launch_1d(runtime, swiglu_spec(c, dev), num_rows, c.intermediate / 16, stream, as_ptr(h),
                as_ptr(r.row_to_token), num_rows, as_ptr(aq.data), as_ptr(aq.scales),
                static_cast<int>(aq.scale_stride));
}

void moe_combine(const MoeConfig& c, int num_tokens, CUdeviceptr y, const MoeRouting& r,
                 CUdeviceptr topk_weights, CUdeviceptr out, CUstream stream,
                 Runtime& runtime) {
  moe_detail::check_combine(c, num_tokens, y, r, topk_weights, out);
  if (num_tokens == 0) return;
  const DeviceInfo& dev = current_device();
  launch_1d(runtime, combine_spec(c, dev), num_tokens, c.hidden / 16, stream, as_ptr(y),
                as_ptr(r.token_slot), as_ptr(topk_weights), num_tokens, as_ptr(out));
}

void moe_layer(const MoeConfig& c, int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx,
               CUdeviceptr topk_weights, const MoeWeights& weights, CUdeviceptr out,
               MoeWorkspace& ws, CUstream stream, Runtime& runtime) {
  validate(c);
  if (num_tokens < 0 || num_tokens > ws.max_tokens())
    fail(Errc::invalid_argument, "moe_layer: num_tokens = " + std::to_string(num_tokens) +
                                     " outside the workspace's [0, " +
                                     std::to_string(ws.max_tokens()) + "]");
  const MoeRouting r = ws.routing();
  const MoeFp8Rows xq = ws.xq(num_tokens), aq = ws.aq(num_tokens);
  // Every check before the first launch, so a bad argument leaves the stream untouched.
  moe_detail::check_route(c, num_tokens, topk_idx, r);
  moe_detail::check_dispatch(c, num_tokens, x, r, xq);
  moe_detail::check_grouped_gemm(c, num_tokens, xq, weights, r, ws.h(), /*down=*/false);
  moe_detail::check_swiglu(c, num_tokens, ws.h(), r, aq);
  moe_detail::check_grouped_gemm(c, num_tokens, aq, weights, r, ws.y(), /*down=*/true);
  moe_detail::check_combine(c, num_tokens, ws.y(), r, topk_weights, out);
  if (num_tokens == 0) return;
  moe_route(c, num_tokens, topk_idx, r, stream, runtime);
  moe_dispatch(c, num_tokens, x, r, xq, stream, runtime);
  moe_gate_up(c, num_tokens, xq, weights, r, ws.h(), stream, runtime);
  moe_swiglu(c, num_tokens, ws.h(), r, aq, stream, runtime);
  moe_down(c, num_tokens, aq, weights, r, ws.y(), stream, runtime);
  moe_combine(c, num_tokens, ws.y(), r, topk_weights, out, stream, runtime);
}

}  // namespace shapejit::runtime
