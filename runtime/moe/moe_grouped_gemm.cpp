// The MoE layer's two grouped FP8 GEMMs, served by the GEMM family:
//   gate/up: h [rows, 2I] = xq [rows, H] · w13[e]ᵀ,   down: y [rows, H] = aq [rows, I] · w2[e]ᵀ
// contiguous layout → the grouped-contiguous GEMM with routing.m_indices (M = num_rows, whole
// BLOCK_M tiles of −1 rows skipped); masked layout → the grouped-masked GEMM with
// routing.tokens_per_expert as masked_m and max_tokens_per_expert as M_max.
#include <algorithm>
#include <string>

#include "moe_checks.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime {

namespace {

struct GroupedGemmCall {
  const MoeConfig* config;
  int num_rows;       // M of the contiguous GEMM; E · M_max for the masked one
  int n, k;
  MoeFp8Rows a;       // FP8 [num_rows, k], M-major 1×128 scales
  CUdeviceptr b = 0, b_scales = 0;   // FP8 [E, n, k], FP32 [E, n/128, k/128]
  CUdeviceptr d = 0;  // BF16 [num_rows, n]
  CUdeviceptr m_indices = 0, masked_m = 0;
};

// Masked layout: the kernel is chosen for the rows an expert typically holds (a host-side
// estimate, so no device sync): T·k / E, at most M_max.
int expected_rows(const MoeConfig& c, int num_tokens) {
  const long long per_expert =
      (static_cast<long long>(num_tokens) * c.top_k + c.num_experts - 1) / c.num_experts;
  return static_cast<int>(std::max(1LL, std::min<long long>(per_expert, c.max_tokens_per_expert)));
}

// The operands both grouped layouts take alike.
template <typename Args>
Args operands(const GroupedGemmCall& call) {
  Args g;
  g.a = call.a.data;
  g.a_scales = call.a.scales;
  g.a_scale_stride = call.a.scale_stride;
  g.b = call.b;
  g.b_scales = call.b_scales;
  g.d = call.d;
  g.n = call.n;
  g.k = call.k;
  g.num_groups = call.config->num_experts;
  return g;
}

GemmFp8GroupedContiguousArgs contiguous_args(const GroupedGemmCall& call) {
  auto g = operands<GemmFp8GroupedContiguousArgs>(call);
  g.m_indices = call.m_indices;
  g.m_sum = call.num_rows;
  g.align_m = call.config->align_m;
  return g;
}

GemmFp8GroupedMaskedArgs masked_args(const GroupedGemmCall& call, int num_tokens) {
  auto g = operands<GemmFp8GroupedMaskedArgs>(call);
  g.masked_m = call.masked_m;
  g.m_max = call.config->max_tokens_per_expert;
  g.expected_m = expected_rows(*call.config, num_tokens);
  return g;
}

void grouped_gemm(const GroupedGemmCall& call, int num_tokens, CUstream stream,
                  Runtime& runtime) {
  if (call.config->layout == MoeLayout::contiguous)
    gemm_fp8_grouped_contiguous(contiguous_args(call), stream, runtime);
  else
    gemm_fp8_grouped_masked(masked_args(call, num_tokens), stream, runtime);
}

GroupedGemmCall make_call(const MoeConfig& c, int num_tokens, const MoeFp8Rows& a,
                          const MoeRouting& r, CUdeviceptr d, bool down, const MoeWeights& w) {
  GroupedGemmCall call{};
  call.config = &c;
  call.num_rows = static_cast<int>(moe_num_rows(c, num_tokens));
  call.n = down ? c.hidden : 2 * c.intermediate;
  call.k = down ? c.intermediate : c.hidden;
  call.a = a;
  call.b = down ? w.w2 : w.w13;
  call.b_scales = down ? w.w2_scales : w.w13_scales;
  call.d = d;
  call.m_indices = r.m_indices;
  call.masked_m = r.tokens_per_expert;
  return call;
}

}  // namespace

std::vector<jit::KernelSpec> moe_grouped_gemm_specs(const MoeConfig& c, int num_tokens,
                                                    const DeviceInfo& target,
                                                    const GemmConfigLookup* tuned) {
  std::vector<jit::KernelSpec> specs;
  const MoeFp8Rows rows{};
  const MoeRouting routing{};
  const MoeWeights weights{};
  for (bool down : {false, true}) {
    const GroupedGemmCall call = make_call(c, num_tokens, rows, routing, 0, down, weights);
    specs.push_back(c.layout == MoeLayout::contiguous ? gemm_spec(contiguous_args(call), target, tuned)
                                                      : gemm_spec(masked_args(call, num_tokens), target, tuned));
  }
  return specs;
}

void moe_gate_up(const MoeConfig& c, int num_tokens, const MoeFp8Rows& xq, const MoeWeights& w,
                 const MoeRouting& r, CUdeviceptr h, CUstream stream, Runtime& runtime) {
  moe_detail::check_grouped_gemm(c, num_tokens, xq, w, r, h, /*down=*/false);
  if (num_tokens == 0) return;
  grouped_gemm(make_call(c, num_tokens, xq, r, h, false, w), num_tokens, stream, runtime);
}

void moe_down(const MoeConfig& c, int num_tokens, const MoeFp8Rows& aq, const MoeWeights& w,
              const MoeRouting& r, CUdeviceptr y, CUstream stream, Runtime& runtime) {
  moe_detail::check_grouped_gemm(c, num_tokens, aq, w, r, y, /*down=*/true);
  if (num_tokens == 0) return;
  grouped_gemm(make_call(c, num_tokens, aq, r, y, true, w), num_tokens, stream, runtime);
}

}  // namespace shapejit::runtime
