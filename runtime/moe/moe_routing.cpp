// MoE configuration checks, buffer sizes and the host reference of the routing layout.
#include <algorithm>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"

namespace shapejit::runtime {

namespace {

constexpr int kRoutingEntriesPerBlock = 4096;

std::string field(const char* name, long long value) {
  return std::string("moe: ") + name + " = " + std::to_string(value);
}

}  // namespace

void validate(const MoeConfig& c) {
  if (c.hidden <= 0 || c.hidden % 512 != 0 || c.hidden > 16384)
    fail(Errc::invalid_argument,
         field("hidden", c.hidden) + " must be a positive multiple of 512, at most 16384");
  if (c.intermediate <= 0 || c.intermediate % 512 != 0 || c.intermediate > 16384)
    fail(Errc::invalid_argument, field("intermediate", c.intermediate) +
                                     " must be a positive multiple of 512, at most 16384");
  if (c.num_experts < 1 || c.num_experts > 1024)
    fail(Errc::invalid_argument, field("num_experts", c.num_experts) + " must be in [1, 1024]");
  if (c.top_k < 1 || c.top_k > 32)
    fail(Errc::invalid_argument, field("top_k", c.top_k) + " must be in [1, 32]");
  if (c.expert_begin < 0)
    fail(Errc::invalid_argument, field("expert_begin", c.expert_begin) + " must be >= 0");
  if (c.layout == MoeLayout::contiguous) {
    if (c.align_m != 64 && c.align_m != 128 && c.align_m != 256)
      fail(Errc::invalid_argument, field("align_m", c.align_m) +
                                       " must be 64, 128 or 256 (the grouped GEMM's M tile)");
  } else if (c.layout == MoeLayout::masked) {
    if (c.max_tokens_per_expert < 1 || c.max_tokens_per_expert % 64 != 0)
      fail(Errc::invalid_argument,
           field("max_tokens_per_expert", c.max_tokens_per_expert) +
               " must be a positive multiple of 64 for the masked layout");
    if (static_cast<long long>(c.max_tokens_per_expert) * c.num_experts > (1LL << 30))
      fail(Errc::invalid_argument, "moe: num_experts * max_tokens_per_expert = " +
                                       std::to_string(static_cast<long long>(c.max_tokens_per_expert) *
                                                      c.num_experts) +
                                       " rows exceeds 2^30");
  } else {
    fail(Errc::invalid_argument, "moe: layout is neither contiguous nor masked");
  }
}

int moe_tokens_per_block(const MoeConfig& config) {
  return std::max(1, kRoutingEntriesPerBlock / config.top_k);
}

int moe_route_blocks(const MoeConfig& config, int num_tokens) {
  const int tpb = moe_tokens_per_block(config);
  return std::max(1, (num_tokens + tpb - 1) / tpb);
}

std::int64_t moe_num_rows(const MoeConfig& c, int num_tokens) {
  if (c.layout == MoeLayout::masked)
    return static_cast<std::int64_t>(c.num_experts) * c.max_tokens_per_expert;
  const std::int64_t worst =
      static_cast<std::int64_t>(num_tokens) * c.top_k + static_cast<std::int64_t>(c.num_experts) * (c.align_m - 1);
  return (worst + c.align_m - 1) / c.align_m * c.align_m;
}

std::int64_t moe_scale_stride(const MoeConfig& c, int num_tokens) {
  return (moe_num_rows(c, num_tokens) + 3) / 4 * 4;
}

MoeRoutingHost moe_route_reference(const MoeConfig& c, int num_tokens,
                                   std::span<const int> topk_idx) {
  validate(c);
  if (num_tokens < 0) fail(Errc::invalid_argument, field("num_tokens", num_tokens) + " must be >= 0");
  const std::size_t entries = static_cast<std::size_t>(num_tokens) * c.top_k;
  if (topk_idx.size() != entries)
    fail(Errc::invalid_argument, "moe: topk_idx has " + std::to_string(topk_idx.size()) +
                                     " entries, expected num_tokens * top_k = " +
                                     std::to_string(entries));
  const int E = c.num_experts;
  const bool masked = c.layout == MoeLayout::masked;
  auto local = [&](int id) {
    const long long e = static_cast<long long>(id) - c.expert_begin;
    return e >= 0 && e < E ? static_cast<int>(e) : -1;
  };

  std::vector<long long> total(E, 0);
  for (int id : topk_idx)
    if (int e = local(id); e >= 0) ++total[e];

  MoeRoutingHost r;
  r.tokens_per_expert.resize(E);
  r.row_begin.resize(E + 1);
  long long row = 0;
  for (int e = 0; e < E; ++e) {
    r.row_begin[e] = static_cast<int>(row);
    if (masked) {
      r.tokens_per_expert[e] = static_cast<int>(std::min<long long>(total[e], c.max_tokens_per_expert));
      row += c.max_tokens_per_expert;
    } else {
      r.tokens_per_expert[e] = static_cast<int>(total[e]);
      row += (total[e] + c.align_m - 1) / c.align_m * c.align_m;
    }
  }
  r.row_begin[E] = static_cast<int>(row);

  const std::int64_t num_rows = moe_num_rows(c, num_tokens);
  r.m_indices.assign(num_rows, -1);
  r.row_to_token.assign(num_rows, -1);
  r.token_slot.assign(entries, -1);
  std::vector<int> placed(E, 0);
  for (std::size_t i = 0; i < entries; ++i) {
    const int e = local(topk_idx[i]);
    if (e < 0) continue;
    const int rank = placed[e]++;
    if (rank >= r.tokens_per_expert[e]) continue;   // masked capacity overflow
    const int at = r.row_begin[e] + rank;
    r.token_slot[i] = at;
    r.row_to_token[at] = static_cast<int>(i / c.top_k);
    r.m_indices[at] = e;
  }
  return r;
}

}  // namespace shapejit::runtime
