#include "shapejit/runtime/scale_layout.hpp"

#include "shapejit/error.hpp"

namespace shapejit::runtime {
namespace {

std::int64_t checked_stride(std::int64_t rows, std::int64_t stride) {
  if (rows < 0) fail(Errc::invalid_argument, "scale layout: rows must be non-negative");
  if (stride == 0) return m_major_scale_stride(rows);
  if (stride < rows || stride % 4 != 0)
    fail(Errc::invalid_argument, "scale layout: stride " + std::to_string(stride) +
                                     " must be a multiple of 4 and at least rows (" +
                                     std::to_string(rows) + ")");
  return stride;
}

}  // namespace

std::int64_t m_major_scale_stride(std::int64_t rows) { return (rows + 3) / 4 * 4; }

std::vector<float> scales_to_m_major(const float* row_major, std::int64_t rows, int k_blocks,
                                      std::int64_t stride) {
  stride = checked_stride(rows, stride);
  std::vector<float> out(static_cast<std::size_t>(stride) * k_blocks, 0.0f);
  for (std::int64_t m = 0; m < rows; ++m)
    for (int kb = 0; kb < k_blocks; ++kb) out[kb * stride + m] = row_major[m * k_blocks + kb];
  return out;
}

std::vector<float> scales_from_m_major(const float* m_major, std::int64_t rows, int k_blocks,
                                        std::int64_t stride) {
  stride = checked_stride(rows, stride);
  std::vector<float> out(static_cast<std::size_t>(rows) * k_blocks);
  for (std::int64_t m = 0; m < rows; ++m)
    for (int kb = 0; kb < k_blocks; ++kb) out[m * k_blocks + kb] = m_major[kb * stride + m];
  return out;
}

}  // namespace shapejit::runtime
