// Device buffers of one MoE layer, carved from a few allocations.
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime {

namespace {

std::int64_t round4(std::int64_t n) { return (n + 3) / 4 * 4; }

// Int32 arrays of the routing metadata, each starting on a 16-byte boundary.
struct IntLayout {
  std::int64_t tokens_per_expert, row_begin, m_indices, row_to_token, token_slot, block_counts, total;
};

IntLayout int_layout(const MoeConfig& c, int max_tokens) {
  IntLayout l{};
  const std::int64_t rows = moe_num_rows(c, max_tokens);
  std::int64_t at = 0;
  l.tokens_per_expert = at; at += round4(c.num_experts);
  l.row_begin = at;         at += round4(c.num_experts + 1);
  l.m_indices = at;         at += round4(rows);
  l.row_to_token = at;      at += round4(rows);
  l.token_slot = at;        at += round4(static_cast<std::int64_t>(max_tokens) * c.top_k);
  l.block_counts = at;      at += round4(static_cast<std::int64_t>(moe_route_blocks(c, max_tokens)) * c.num_experts);
  l.total = at;
  return l;
}

void check_max_tokens(const MoeConfig& c, int max_tokens) {
  validate(c);
  if (max_tokens < 1 || static_cast<long long>(max_tokens) * c.top_k > (1LL << 30))
    fail(Errc::invalid_argument, "MoeWorkspace: max_tokens = " + std::to_string(max_tokens) +
                                     " must be >= 1 with max_tokens * top_k <= 2^30");
}

}  // namespace

std::size_t MoeWorkspace::bytes_needed(const MoeConfig& c, int max_tokens) {
  check_max_tokens(c, max_tokens);
  const std::int64_t rows = moe_num_rows(c, max_tokens);
  const std::int64_t stride = moe_scale_stride(c, max_tokens);
  const std::int64_t H = c.hidden, I = c.intermediate;
  return static_cast<std::size_t>(int_layout(c, max_tokens).total * 4 + rows * H +
                                  H / 128 * stride * 4 + rows * 2 * I * 2 + rows * I +
                                  I / 128 * stride * 4 + rows * H * 2);
}

MoeWorkspace::MoeWorkspace(const MoeConfig& c, int max_tokens) : config_(c), max_tokens_(max_tokens) {
  check_max_tokens(c, max_tokens);
  const std::int64_t rows = moe_num_rows(c, max_tokens);
  const std::int64_t stride = moe_scale_stride(c, max_tokens);
  const std::int64_t H = c.hidden, I = c.intermediate;
  ints_ = DeviceBuffer(int_layout(c, max_tokens).total * 4);
  xq_ = DeviceBuffer(rows * H);
  xq_scales_ = DeviceBuffer(H / 128 * stride * 4);
  h_ = DeviceBuffer(rows * 2 * I * 2);
  aq_ = DeviceBuffer(rows * I);
  aq_scales_ = DeviceBuffer(I / 128 * stride * 4);
  y_ = DeviceBuffer(rows * H * 2);
}

MoeRouting MoeWorkspace::routing() const {
  const IntLayout l = int_layout(config_, max_tokens_);
  const CUdeviceptr base = ints_.ptr();
  MoeRouting r;
  r.tokens_per_expert = base + l.tokens_per_expert * 4;
  r.row_begin = base + l.row_begin * 4;
  r.m_indices = base + l.m_indices * 4;
  r.row_to_token = base + l.row_to_token * 4;
  r.token_slot = base + l.token_slot * 4;
  r.block_counts = base + l.block_counts * 4;
  return r;
}

MoeFp8Rows MoeWorkspace::xq(int num_tokens) const {
  return {xq_.ptr(), xq_scales_.ptr(), moe_scale_stride(config_, num_tokens)};
}

MoeFp8Rows MoeWorkspace::aq(int num_tokens) const {
  return {aq_.ptr(), aq_scales_.ptr(), moe_scale_stride(config_, num_tokens)};
}

}  // namespace shapejit::runtime
