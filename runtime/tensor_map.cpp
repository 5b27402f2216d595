#include "shapejit/runtime/tensor_map.hpp"

#include <utility>

#include "shapejit/error.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime {
namespace {

[[noreturn]] void bad(const TensorMapSpec& s, const std::string& what) {
  fail(Errc::invalid_argument, "tensor map for " + s.name + ": " + what);
}

CUtensorMapSwizzle swizzle_mode(int bytes) {
  switch (bytes) {
    case 32: return CU_TENSOR_MAP_SWIZZLE_32B;
    case 64: return CU_TENSOR_MAP_SWIZZLE_64B;
    case 128: return CU_TENSOR_MAP_SWIZZLE_128B;
    default: return CU_TENSOR_MAP_SWIZZLE_NONE;
  }
}

}  // namespace

TensorMapSpec tensor_map_2d(std::string name, CUtensorMapDataType dtype, int element_bytes,
                            CUdeviceptr base, std::uint64_t cols, std::uint64_t rows,
                            std::uint64_t row_bytes, std::uint32_t box_cols,
                            std::uint32_t box_rows, int swizzle_bytes) {
  TensorMapSpec s;
  s.name = std::move(name);
  s.dtype = dtype;
  s.element_bytes = element_bytes;
  s.rank = 2;
  s.base = base;
  s.dims[0] = cols;
  s.dims[1] = rows;
  s.strides[0] = row_bytes;
  s.box[0] = box_cols;
  s.box[1] = box_rows;
  s.swizzle_bytes = swizzle_bytes;
  return s;
}

void validate_tensor_map(const TensorMapSpec& s) {
  if (s.rank < 2 || s.rank > 3) bad(s, "rank must be 2 or 3");
  if (s.base == 0) bad(s, "null pointer");
  if (s.base % 16 != 0) bad(s, "pointer must be 16-byte aligned");
  for (int i = 0; i < s.rank; ++i) {
    if (s.dims[i] == 0) bad(s, "dimension " + std::to_string(i) + " is zero");
    if (s.dims[i] > (1ULL << 32)) bad(s, "dimension " + std::to_string(i) + " exceeds 2^32");
    if (s.box[i] == 0 || s.box[i] > 256)
      bad(s, "box dimension " + std::to_string(i) + " must be 1..256");
  }
  if ((s.box[0] * s.element_bytes) % 16 != 0) bad(s, "box row must be a multiple of 16 bytes");
  for (int i = 0; i + 1 < s.rank; ++i) {
    if (s.strides[i] % 16 != 0)
      bad(s, "leading dimension (stride " + std::to_string(s.strides[i]) +
                 " bytes) must be a multiple of 16 bytes");
    if (s.strides[i] >= (1ULL << 40)) bad(s, "stride exceeds 2^40 bytes");
  }
  if (s.strides[0] < s.dims[0] * s.element_bytes)
    bad(s, "leading dimension is smaller than a row");
  if (s.swizzle_bytes != 0 && s.swizzle_bytes != 32 && s.swizzle_bytes != 64 &&
      s.swizzle_bytes != 128)
    bad(s, "swizzle must be 0, 32, 64 or 128 bytes");
  if (s.swizzle_bytes != 0 && s.box[0] * s.element_bytes > static_cast<unsigned>(s.swizzle_bytes))
    bad(s, "a swizzled box row may not exceed the swizzle width");
}

CUtensorMap make_tensor_map(const TensorMapSpec& s) {
  validate_tensor_map(s);
  CUtensorMap map{};
  cuuint64_t dims[3] = {s.dims[0], s.dims[1], s.dims[2]};
  cuuint64_t strides[2] = {s.strides[0], s.strides[1]};
  cuuint32_t box[3] = {s.box[0], s.box[1], s.box[2]};
  cuuint32_t elem_strides[3] = {1, 1, 1};
  const CUresult r = driver().cuTensorMapEncodeTiled(
      &map, s.dtype, static_cast<cuuint32_t>(s.rank), reinterpret_cast<void*>(s.base), dims,
      strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle_mode(s.swizzle_bytes),
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    const char* msg = nullptr;
    driver().cuGetErrorString(r, &msg);
    fail(Errc::driver, "cuTensorMapEncodeTiled for " + s.name + " failed: " +
                           (msg ? msg : "unknown error"));
  }
  return map;
}

}  // namespace shapejit::runtime
