// The MoE layer's two grouped FP8 GEMMs, served by the GEMM family:
//   gate/up: h [rows, 2I] = xq [rows, H] · w13[e]ᵀ,   down: y [rows, H] = aq [rows, I] · w2[e]ᵀ
// contiguous layout → the grouped-contiguous GEMM with routing.m_indices (M = num_rows, whole
// BLOCK_M tiles of −1 rows skipped); masked layout → the grouped-masked GEMM with
// routing.tokens_per_expert as masked_m and max_tokens_per_expert as M_max.
#include <string>

#include "moe_checks.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime {

namespace {

struct GroupedGemmCall {
  const MoeConfig* config;
  int num_rows;       // M of the contiguous GEMM; E · M_max for the masked one
  int n, k;
  MoeFp8Rows a;       // FP8 [num_rows, k], MN-major 1×128 scales
  CUdeviceptr b = 0, b_scales = 0;   // FP8 [E, n, k], FP32 [E, n/128, k/128]
  CUdeviceptr d = 0;  // BF16 [num_rows, n]
  CUdeviceptr m_indices = 0, masked_m = 0;
};

[[noreturn]] void grouped_gemm(const GroupedGemmCall& call, CUstream stream) {
  fail(Errc::unsupported,
       std::string("moe: the grouped FP8 GEMM of the gemm family (gemm_fp8_grouped_") +
           (call.config->layout == MoeLayout::contiguous ? "contiguous" : "masked") +
           ") is not part of this build yet; moe_route, moe_dispatch, moe_swiglu and moe_combine "
           "work on their own");
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

void moe_gate_up(const MoeConfig& c, int num_tokens, const MoeFp8Rows& xq, const MoeWeights& w,
                 const MoeRouting& r, CUdeviceptr h, CUstream stream) {
  moe_detail::check_grouped_gemm(c, num_tokens, xq, w, r, h, /*down=*/false);
  if (num_tokens == 0) return;
  grouped_gemm(make_call(c, num_tokens, xq, r, h, false, w), stream);
}

void moe_down(const MoeConfig& c, int num_tokens, const MoeFp8Rows& aq, const MoeWeights& w,
              const MoeRouting& r, CUdeviceptr y, CUstream stream) {
  moe_detail::check_grouped_gemm(c, num_tokens, aq, w, r, y, /*down=*/true);
  if (num_tokens == 0) return;
  grouped_gemm(make_call(c, num_tokens, aq, r, y, true, w), stream);
}

}  // namespace shapejit::runtime
