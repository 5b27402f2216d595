// FP32 CPU reference of MLA decode: gathers each request's pages through the block table,
// dequantizes the rows, and runs exact softmax attention per query row (accumulated in double).
// Optionally also the quantities the kernel's error bound is stated in (see mla.hpp): the
// softmax-weighted mean of |V| per output element and the largest Σ|q·k| per row.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "shapejit/error.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {
namespace {

// One cache row as 576 floats.
void load_row(MlaKvDtype dtype, const std::uint8_t* row, float* dst) {
  if (dtype == MlaKvDtype::bf16) {
    for (int d = 0; d < kMlaHeadDim; ++d) {
      std::uint16_t bits;
      std::memcpy(&bits, row + 2 * d, 2);
      dst[d] = bf16_to_float(bits);
    }
    return;
  }
  float scales[4];
  std::memcpy(scales, row + 512, sizeof(scales));
  // NOTES: the kernel dequantizes FP8 rows to BF16 (e4m3 · scale, rounded to nearest even)
  // and runs BF16 tensor-core MMAs, as FlashMLA's FP8 path does; the reference applies the
  // same rounding so it checks the attention itself rather than the storage precision.
  for (int d = 0; d < kMlaValueDim; ++d)
    dst[d] = bf16_to_float(float_to_bf16(e4m3_to_float(row[d]) * scales[d / 128]));
  for (int d = 0; d < kMlaHeadDim - kMlaValueDim; ++d) {
    std::uint16_t bits;
    std::memcpy(&bits, row + 528 + 2 * d, 2);
    dst[kMlaValueDim + d] = bf16_to_float(bits);
  }
}

}  // namespace

void mla_decode_reference(const MlaConfig& config, int batch, int max_blocks_per_seq,
                          float softmax_scale, std::span<const std::uint16_t> q,
                          std::span<const std::uint8_t> k_cache,
                          std::span<const std::int32_t> block_table,
                          std::span<const std::int32_t> cache_seqlens, std::span<float> out,
                          std::span<float> lse, std::span<float> abs_out,
                          std::span<float> max_abs_logit) {
  validate(config);
  const int h = config.num_heads_q, sq = config.seq_q, page = config.page_size;
  const std::size_t row_bytes = static_cast<std::size_t>(mla_kv_row_bytes(config.kv_dtype));
  const std::size_t rows = static_cast<std::size_t>(batch) * sq * h;
  if (q.size() < rows * kMlaHeadDim || out.size() < rows * kMlaValueDim || lse.size() < rows ||
      block_table.size() < static_cast<std::size_t>(batch) * max_blocks_per_seq ||
      cache_seqlens.size() < static_cast<std::size_t>(batch) ||
      (!abs_out.empty() && abs_out.size() < rows * kMlaValueDim) ||
      (!max_abs_logit.empty() && max_abs_logit.size() < rows))
    fail(Errc::invalid_argument, "mla reference: a host buffer is smaller than its shape");
  const float scale = softmax_scale > 0.0f ? softmax_scale : 1.0f / std::sqrt(576.0f);
  const std::size_t num_cache_rows = k_cache.size() / row_bytes;

  std::vector<float> keys, qrow(kMlaHeadDim), logits;
  for (int b = 0; b < batch; ++b) {
    const int len = cache_seqlens[b];
    keys.assign(static_cast<std::size_t>(len) * kMlaHeadDim, 0.0f);
    for (int t = 0; t < len; ++t) {
      const long long block = block_table[static_cast<std::size_t>(b) * max_blocks_per_seq + t / page];
      const std::size_t row = static_cast<std::size_t>(block) * page + t % page;
      if (block < 0 || row >= num_cache_rows)
        fail(Errc::invalid_argument, "mla reference: block table entry out of range for request " +
                                         std::to_string(b));
      load_row(config.kv_dtype, k_cache.data() + row * row_bytes, keys.data() + t * kMlaHeadDim);
    }
    for (int i = 0; i < sq; ++i) {
      const int visible = std::min(len, std::max(0, len - sq + 1 + i));
      for (int hh = 0; hh < h; ++hh) {
        const std::size_t r = (static_cast<std::size_t>(b) * sq + i) * h + hh;
        for (int d = 0; d < kMlaHeadDim; ++d) qrow[d] = bf16_to_float(q[r * kMlaHeadDim + d]);
        float* o = out.data() + r * kMlaValueDim;
        const std::size_t lse_index = (static_cast<std::size_t>(b) * h + hh) * sq + i;
        float& l = lse[lse_index];
        float* a = abs_out.empty() ? nullptr : abs_out.data() + r * kMlaValueDim;
        if (visible == 0) {
          std::fill(o, o + kMlaValueDim, 0.0f);
          if (a) std::fill(a, a + kMlaValueDim, 0.0f);
          if (!max_abs_logit.empty()) max_abs_logit[lse_index] = 0.0f;
          l = std::numeric_limits<float>::infinity();
          continue;
        }
        logits.resize(visible);
        double mx = -std::numeric_limits<double>::infinity(), max_abs_dot = 0.0;
        for (int t = 0; t < visible; ++t) {
          double dot = 0.0, abs_dot = 0.0;
          const float* k = keys.data() + static_cast<std::size_t>(t) * kMlaHeadDim;
          for (int d = 0; d < kMlaHeadDim; ++d) {
            const double prod = static_cast<double>(qrow[d]) * k[d];
            dot += prod;
            abs_dot += std::fabs(prod);
          }
          logits[t] = static_cast<float>(dot * scale);
          mx = std::max(mx, static_cast<double>(logits[t]));
          max_abs_dot = std::max(max_abs_dot, abs_dot);
        }
        double sum = 0.0;
        std::vector<double> acc(kMlaValueDim, 0.0), abs_acc(a ? kMlaValueDim : 0, 0.0);
        for (int t = 0; t < visible; ++t) {
          const double p = std::exp(static_cast<double>(logits[t]) - mx);
          sum += p;
          const float* v = keys.data() + static_cast<std::size_t>(t) * kMlaHeadDim;
          for (int d = 0; d < kMlaValueDim; ++d) acc[d] += p * v[d];
          if (a)
            for (int d = 0; d < kMlaValueDim; ++d) abs_acc[d] += p * std::fabs(v[d]);
        }
        for (int d = 0; d < kMlaValueDim; ++d) o[d] = static_cast<float>(acc[d] / sum);
        if (a)
          for (int d = 0; d < kMlaValueDim; ++d) a[d] = static_cast<float>(abs_acc[d] / sum);
        if (!max_abs_logit.empty())
          max_abs_logit[lse_index] = static_cast<float>(max_abs_dot * scale);
        l = static_cast<float>(mx + std::log(sum));
      }
    }
  }
}

}  // namespace shapejit::runtime
