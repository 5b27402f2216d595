#pragma once
// Layouts of the FP8 GEMM's FP32 scales.
//
//   A scales (1x128 per row): M-major, [K/128][stride] with stride = align_up(rows, 4) or more
//     (a multiple of 4: each K block's column of scales is a 16-byte multiple, as TMA needs).
//     scale of (row m, K block kb) at index kb * stride + m. This is what gemm_fp8_nt and the
//     grouped GEMMs take; the FP8 quantization kernel writes it directly with
//     ScaleLayout::m_major (quant.hpp).
//   B scales (128x128 blocks): row-major [ceil(N/128)][K/128] (grouped: [G][ceil(N/128)][K/128]).
#include <cstdint>
#include <vector>

namespace shapejit::runtime {

// Default stride (floats) of M-major A scales for `rows` rows.
std::int64_t m_major_scale_stride(std::int64_t rows);

// Row-major [rows][k_blocks] → M-major [k_blocks][stride] (padding entries set to 0).
std::vector<float> scales_to_m_major(const float* row_major, std::int64_t rows, int k_blocks,
                                      std::int64_t stride = 0);
// M-major [k_blocks][stride] → row-major [rows][k_blocks].
std::vector<float> scales_from_m_major(const float* m_major, std::int64_t rows, int k_blocks,
                                        std::int64_t stride = 0);

}  // namespace shapejit::runtime
