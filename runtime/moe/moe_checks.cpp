#include "moe_checks.hpp"

#include <climits>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/checks.hpp"

namespace shapejit::runtime::moe_detail {

namespace {

void require_scales(const MoeConfig& c, int num_tokens, const char* op, const char* name,
                    const MoeFp8Rows& rows) {
  require_device_pointer(op, std::string(name) + ".data", rows.data, 16);
  require_device_pointer(op, std::string(name) + ".scales", rows.scales, 16);
  const std::int64_t need = moe_num_rows(c, num_tokens);
  if (rows.scale_stride < need || rows.scale_stride % 4 != 0 || rows.scale_stride > INT_MAX)
    fail(Errc::invalid_argument,
         std::string(op) + ": " + name + ".scale_stride = " + std::to_string(rows.scale_stride) +
             " must be a multiple of 4 (16-byte rows) and at least num_rows = " + std::to_string(need));
}

}  // namespace

void check_tokens(const MoeConfig& c, int num_tokens, const char* op) {
  validate(c);
  if (num_tokens < 0)
    fail(Errc::invalid_argument, std::string(op) + ": num_tokens = " + std::to_string(num_tokens) + " is negative");
  const long long entries = static_cast<long long>(num_tokens) * c.top_k;
  if (entries > INT_MAX / 2)
    fail(Errc::invalid_argument, std::string(op) + ": num_tokens * top_k = " + std::to_string(entries) +
                                     " exceeds 2^30");
  const std::int64_t rows = moe_num_rows(c, num_tokens);
  if (rows > INT_MAX / 2)
    fail(Errc::invalid_argument, std::string(op) + ": " + std::to_string(rows) + " expert-major rows exceed 2^30");
}

void check_route(const MoeConfig& c, int num_tokens, CUdeviceptr topk_idx, const MoeRouting& r) {
  const char* op = "moe_route";
  check_tokens(c, num_tokens, op);
  require_device_pointer(op, "topk_idx", topk_idx, 4);
  require_device_pointer(op, "routing.tokens_per_expert", r.tokens_per_expert, 4);
  require_device_pointer(op, "routing.row_begin", r.row_begin, 4);
  if (c.layout == MoeLayout::contiguous || r.m_indices != 0)
    require_device_pointer(op, "routing.m_indices", r.m_indices, 4);
  require_device_pointer(op, "routing.row_to_token", r.row_to_token, 4);
  require_device_pointer(op, "routing.token_slot", r.token_slot, 4);
  require_device_pointer(op, "routing.block_counts", r.block_counts, 4);
}

void check_dispatch(const MoeConfig& c, int num_tokens, CUdeviceptr x, const MoeRouting& r,
                    const MoeFp8Rows& xq) {
  const char* op = "moe_dispatch";
  check_tokens(c, num_tokens, op);
  require_device_pointer(op, "x", x, 16);
  require_device_pointer(op, "routing.token_slot", r.token_slot, 4);
  require_scales(c, num_tokens, op, "xq", xq);
}

void check_swiglu(const MoeConfig& c, int num_tokens, CUdeviceptr h, const MoeRouting& r,
                  const MoeFp8Rows& aq) {
  const char* op = "moe_swiglu";
  check_tokens(c, num_tokens, op);
  require_device_pointer(op, "h", h, 16);
  require_device_pointer(op, "routing.row_to_token", r.row_to_token, 4);
  require_scales(c, num_tokens, op, "aq", aq);
}

void check_combine(const MoeConfig& c, int num_tokens, CUdeviceptr y, const MoeRouting& r,
                   CUdeviceptr topk_weights, CUdeviceptr out) {
  const char* op = "moe_combine";
  check_tokens(c, num_tokens, op);
  require_device_pointer(op, "y", y, 16);
  require_device_pointer(op, "routing.token_slot", r.token_slot, 4);
  require_device_pointer(op, "topk_weights", topk_weights, 4);
  require_device_pointer(op, "out", out, 16);
}

void check_grouped_gemm(const MoeConfig& c, int num_tokens, const MoeFp8Rows& a,
                        const MoeWeights& w, const MoeRouting& r, CUdeviceptr d, bool down) {
  const char* op = down ? "moe_down" : "moe_gate_up";
  check_tokens(c, num_tokens, op);
  require_scales(c, num_tokens, op, down ? "aq" : "xq", a);
  require_device_pointer(op, down ? "weights.w2" : "weights.w13", down ? w.w2 : w.w13, 16);
  require_device_pointer(op, down ? "weights.w2_scales" : "weights.w13_scales",
              down ? w.w2_scales : w.w13_scales, 16);
  if (c.layout == MoeLayout::contiguous)
    require_device_pointer(op, "routing.m_indices", r.m_indices, 4);
  else
    require_device_pointer(op, "routing.tokens_per_expert", r.tokens_per_expert, 4);
  require_device_pointer(op, down ? "y" : "h", d, 16);
}

}  // namespace shapejit::runtime::moe_detail
