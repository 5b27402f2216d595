// MoE layer front end: argument checks, kernel specs and launches of the MoE-family kernels.
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/moe_launch.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "moe/row_tile.cuh"
#include "moe_checks.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

namespace {

using jit::KernelSpec;

// The proven kernels' fixed launch: one row a block, 16 columns a thread.
constexpr int kProvenCols = 16;
constexpr int kProvenRows = 1;

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

KernelSpec step_spec(MoeStep step, const MoeConfig& c, const MoeLaunch& l, const DeviceInfo& t) {
  jit::NamedValues v;
  switch (step) {
    case MoeStep::dispatch:
      v = {{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}, {"SCALE_M_MAJOR", true}};
      break;
    case MoeStep::swiglu:
      v = {{"INTERMEDIATE", c.intermediate}, {"SCALE_M_MAJOR", true}};
      break;
    case MoeStep::combine:
      v = {{"HIDDEN", c.hidden}, {"TOP_K", c.top_k}};
      break;
  }
  const char* kernel = moe_step_kernel(step, l.tiled);
  if (!l.tiled) {
    if (l.cols_per_thread != kProvenCols || l.rows_per_block != kProvenRows)
      fail(Errc::invalid_argument, std::string(kernel) + " has the fixed launch shape " +
                                       to_string(MoeLaunch{}) + "; " + to_string(l) +
                                       " needs the tiled kernel");
    return moe_spec(t, kernel, v);
  }
  v.emplace_back("COLS_PER_THREAD", l.cols_per_thread);
  v.emplace_back("ROWS_PER_BLOCK", l.rows_per_block);
  return moe_spec(t, kernel, v);
}

const void* as_ptr(CUdeviceptr p) { return reinterpret_cast<const void*>(p); }

}  // namespace

// The step's kernel: the proven one, or the tiled one with the launch shape as parameters.
const char* moe_step_kernel(MoeStep step, bool tiled) {
  static constexpr const char* kKernels[3][2] = {{"moe_dispatch_fp8", "moe_dispatch_fp8_tiled"},
                                                 {"moe_swiglu_fp8", "moe_swiglu_fp8_tiled"},
                                                 {"moe_combine", "moe_combine_tiled"}};
  return kKernels[static_cast<int>(step)][tiled ? 1 : 0];
}

std::optional<MoeLaunch> moe_launch_of(const std::string& config_json) {
  try {
    const nlohmann::json j = nlohmann::json::parse(config_json);
    const std::string kernel = j.at("kernel").get<std::string>();
    if (kernel != "proven" && kernel != "tiled") return std::nullopt;
    return MoeLaunch{kernel == "tiled", j.at("COLS_PER_THREAD").get<int>(), j.at("ROWS_PER_BLOCK").get<int>()};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

MoeLaunch moe_tuned_launch(MoeStep step, const MoeConfig& config, int rows, const DeviceInfo& device,
                           const TunedConfigs* tuned) {
  const char* op = moe_step_op(step);
  if (tuned == nullptr || rows < 1 || !tuned->has(op)) return {};
  const std::optional<cache::TuningRecord> r =
      tuned->find(op, moe_step_shape_json({step, config, rows}), device);
  if (!r) return {};
  const std::optional<MoeLaunch> l = moe_launch_of(r->config_json);
  if (!l) return {};
  try {
    step_spec(step, config, *l, device);   // a shape this config's definition refuses: not used
  } catch (const Error&) {
    return {};
  }
  return *l;
}

std::string to_string(const MoeLaunch& l) {
  return std::string(l.tiled ? "tiled " : "proven ") + std::to_string(l.cols_per_thread) + "x" +
         std::to_string(l.rows_per_block);
}

int moe_step_width(MoeStep step, const MoeConfig& config) {
  return step == MoeStep::swiglu ? config.intermediate : config.hidden;
}

KernelSpec moe_step_spec(MoeStep step, const MoeConfig& config, const MoeLaunch& launch,
                         const DeviceInfo& target) {
  validate(config);
  return step_spec(step, config, launch, target);
}

int moe_step_threads(MoeStep step, const MoeConfig& config, const MoeLaunch& launch) {
  return kernels::moe_tile_threads(moe_step_width(step, config), launch.cols_per_thread,
                                   launch.rows_per_block);
}

int moe_step_blocks(const MoeLaunch& launch, int rows) {
  return (rows + launch.rows_per_block - 1) / launch.rows_per_block;
}

std::vector<MoeLaunch> moe_step_launches(MoeStep step, const MoeConfig& config) {
  validate(config);
  std::vector<MoeLaunch> out{MoeLaunch{}};
  const DeviceInfo any;
  const jit::KernelDefinition& tiled = jit::find_kernel_definition("moe", moe_step_kernel(step, true));
  for (long long cols : tiled.find("COLS_PER_THREAD")->values())
    for (long long rows : tiled.find("ROWS_PER_BLOCK")->values()) {
      const MoeLaunch l{true, static_cast<int>(cols), static_cast<int>(rows)};
      try {
        step_spec(step, config, l, any);
      } catch (const Error&) {
        continue;   // a shape the definition's rules refuse for this width
      }
      out.push_back(l);
    }
  return out;
}

std::vector<jit::KernelSpec> moe_kernel_specs(const MoeConfig& config, const DeviceInfo& target) {
  validate(config);
  return {route_count_spec(config, target), route_layout_spec(config, target),
          step_spec(MoeStep::dispatch, config, {}, target), step_spec(MoeStep::swiglu, config, {}, target),
          step_spec(MoeStep::combine, config, {}, target)};
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

void moe_dispatch(const MoeConfig& c, const MoeLaunch& l, int num_tokens, CUdeviceptr x,
                  const MoeRouting& r, const MoeFp8Rows& xq, CUstream stream, Runtime& runtime) {
  moe_detail::check_dispatch(c, num_tokens, x, r, xq);
  // An empty call launches nothing, but a launch shape the definition refuses is still an error.
  if (num_tokens == 0) {
    step_spec(MoeStep::dispatch, c, l, DeviceInfo{});
    return;
  }
  const KernelSpec spec = step_spec(MoeStep::dispatch, c, l, current_device());
  launch_1d(runtime, spec, moe_step_blocks(l, num_tokens), moe_step_threads(MoeStep::dispatch, c, l),
            stream, as_ptr(x), num_tokens, as_ptr(r.token_slot), as_ptr(xq.data), as_ptr(xq.scales),
            static_cast<int>(xq.scale_stride));
}

void moe_dispatch(const MoeConfig& c, int num_tokens, CUdeviceptr x, const MoeRouting& r,
                  const MoeFp8Rows& xq, CUstream stream, Runtime& runtime) {
  moe_detail::check_dispatch(c, num_tokens, x, r, xq);
  if (num_tokens == 0) return;
  // The runtime's winner for this row bucket on this device and SM limit, else the proven launch.
  const MoeLaunch l =
      moe_tuned_launch(MoeStep::dispatch, c, num_tokens, runtime.target(current_device()), runtime.tuned_configs());
  moe_dispatch(c, l, num_tokens, x, r, xq, stream, runtime);
}

void moe_swiglu(const MoeConfig& c, const MoeLaunch& l, int num_tokens, CUdeviceptr h,
                const MoeRouting& r, const MoeFp8Rows& aq, CUstream stream, Runtime& runtime) {
  moe_detail::check_swiglu(c, num_tokens, h, r, aq);
  // An empty call launches nothing, but a launch shape the definition refuses is still an error.
  if (num_tokens == 0) {
    step_spec(MoeStep::swiglu, c, l, DeviceInfo{});
    return;
  }
  const KernelSpec spec = step_spec(MoeStep::swiglu, c, l, current_device());
  const int num_rows = static_cast<int>(moe_num_rows(c, num_tokens));
  launch_1d(runtime, spec, moe_step_blocks(l, num_rows), moe_step_threads(MoeStep::swiglu, c, l),
            stream, as_ptr(h), as_ptr(r.row_to_token), num_rows, as_ptr(aq.data), as_ptr(aq.scales),
            static_cast<int>(aq.scale_stride));
}

void moe_swiglu(const MoeConfig& c, int num_tokens, CUdeviceptr h, const MoeRouting& r,
                const MoeFp8Rows& aq, CUstream stream, Runtime& runtime) {
  moe_detail::check_swiglu(c, num_tokens, h, r, aq);
  if (num_tokens == 0) return;
  const int num_rows = static_cast<int>(moe_num_rows(c, num_tokens));
  const MoeLaunch l =
      moe_tuned_launch(MoeStep::swiglu, c, num_rows, runtime.target(current_device()), runtime.tuned_configs());
  moe_swiglu(c, l, num_tokens, h, r, aq, stream, runtime);
}

void moe_combine(const MoeConfig& c, const MoeLaunch& l, int num_tokens, CUdeviceptr y,
                 const MoeRouting& r, CUdeviceptr topk_weights, CUdeviceptr out, CUstream stream,
                 Runtime& runtime) {
  moe_detail::check_combine(c, num_tokens, y, r, topk_weights, out);
  // An empty call launches nothing, but a launch shape the definition refuses is still an error.
  if (num_tokens == 0) {
    step_spec(MoeStep::combine, c, l, DeviceInfo{});
    return;
  }
  const KernelSpec spec = step_spec(MoeStep::combine, c, l, current_device());
  launch_1d(runtime, spec, moe_step_blocks(l, num_tokens), moe_step_threads(MoeStep::combine, c, l),
            stream, as_ptr(y), as_ptr(r.token_slot), as_ptr(topk_weights), num_tokens, as_ptr(out));
}

void moe_combine(const MoeConfig& c, int num_tokens, CUdeviceptr y, const MoeRouting& r,
                 CUdeviceptr topk_weights, CUdeviceptr out, CUstream stream, Runtime& runtime) {
  moe_detail::check_combine(c, num_tokens, y, r, topk_weights, out);
  if (num_tokens == 0) return;
  const MoeLaunch l =
      moe_tuned_launch(MoeStep::combine, c, num_tokens, runtime.target(current_device()), runtime.tuned_configs());
  moe_combine(c, l, num_tokens, y, r, topk_weights, out, stream, runtime);
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
