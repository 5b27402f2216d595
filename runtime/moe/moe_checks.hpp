#pragma once
// Argument checks of the MoE front end: host-only, run before any driver call, each failure an
// Error(invalid_argument) that names the argument and the rule it breaks.
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime::moe_detail {

void check_tokens(const MoeConfig& c, int num_tokens, const char* op);
void check_route(const MoeConfig& c, int num_tokens, CUdeviceptr topk_idx, const MoeRouting& r);
void check_dispatch(const MoeConfig& c, int num_tokens, CUdeviceptr x, const MoeRouting& r,
                    const MoeFp8Rows& xq);
void check_swiglu(const MoeConfig& c, int num_tokens, CUdeviceptr h, const MoeRouting& r,
                  const MoeFp8Rows& aq);
void check_combine(const MoeConfig& c, int num_tokens, CUdeviceptr y, const MoeRouting& r,
                   CUdeviceptr topk_weights, CUdeviceptr out);
// down = false: the gate/up GEMM (A = xq, H columns, B = w13); true: the down GEMM (A = aq).
void check_grouped_gemm(const MoeConfig& c, int num_tokens, const MoeFp8Rows& a,
                        const MoeWeights& w, const MoeRouting& r, CUdeviceptr d, bool down);

}  // namespace shapejit::runtime::moe_detail
