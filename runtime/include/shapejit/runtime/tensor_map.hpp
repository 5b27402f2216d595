#pragma once
// TMA tensor maps (CUtensorMap) for the kernels, encoded on the host with
// cuTensorMapEncodeTiled through driver(). Dimensions and boxes are innermost first, strides
// in bytes for the outer dimensions. The TMA rules (16-byte aligned base, 16-byte multiple
// strides below 2^40, boxes of at most 256 per dimension, a swizzled box row no wider than the
// swizzle span) are checked first with an Error(invalid_argument) naming the operand.
#include <cuda.h>

#include <cstdint>
#include <string>

namespace shapejit::runtime {

struct TensorMapSpec {
  std::string name;                    // operand name for error messages ("A", "D", ...)
  CUtensorMapDataType dtype = CU_TENSOR_MAP_DATA_TYPE_UINT8;
  int element_bytes = 1;
  int rank = 2;                        // 2 or 3
  CUdeviceptr base = 0;
  std::uint64_t dims[3] = {0, 0, 0};   // elements, innermost first
  std::uint64_t strides[2] = {0, 0};   // bytes between consecutive indices of dims[1], dims[2]
  std::uint32_t box[3] = {1, 1, 1};
  int swizzle_bytes = 0;               // 0, 32, 64, 128
};

// A 2-D spec: `rows` rows of `cols` elements, `row_bytes` apart, read in boxes of
// box_cols × box_rows. Callers raise the rank for batched operands.
TensorMapSpec tensor_map_2d(std::string name, CUtensorMapDataType dtype, int element_bytes,
                            CUdeviceptr base, std::uint64_t cols, std::uint64_t rows,
                            std::uint64_t row_bytes, std::uint32_t box_cols,
                            std::uint32_t box_rows, int swizzle_bytes);

// Throws Error(invalid_argument) when spec breaks a TMA rule; no driver call.
void validate_tensor_map(const TensorMapSpec& spec);

// Validates, then encodes (needs the driver).
CUtensorMap make_tensor_map(const TensorMapSpec& spec);

}  // namespace shapejit::runtime
