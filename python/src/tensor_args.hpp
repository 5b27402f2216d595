#pragma once
// Tensors from Python (DLPack: torch, CuPy, JAX, NumPy) as device pointers, checked: every check
// that fails throws Error(invalid_argument) naming the argument, what it needs and what it got.
// No copies: the kernels read and write the caller's memory.
#include <cuda.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace shapejit::python {

namespace nb = nanobind;
using Array = nb::ndarray<>;   // any dtype, shape, device: checked by hand below

// The element types the kernels take. FP8 arrives as DLPack float8_e4m3fn or as 8-bit integers
// holding E4M3 bits (torch exports float8 tensors as a uint8 view: shapejit/_tensors.py).
enum class Elem { e4m3, bf16, f32, i32 };
const char* elem_name(Elem e);

// The tensors of one call. ptr/buffer check each one (CUDA memory, dtype, rank, size) without
// touching the driver, so every shape and layout error is reported the same with or without a
// GPU; on_current_device() then checks that they all live on the current device.
class Tensors {
 public:
  // Checks device type (CUDA), dtype and rank; returns the data pointer.
  CUdeviceptr ptr(const Array& a, const char* name, Elem elem, int rank);
  // A contiguous CUDA buffer of any dtype with at least min_bytes bytes (metadata, workspaces).
  CUdeviceptr buffer(const Array& a, const char* name, std::size_t min_bytes);
  void on_current_device() const;

 private:
  struct Seen {
    const char* name;
    int device_id;
  };
  std::vector<Seen> seen_;
};
// shape[dim] == want (want < 0: any).
void check_dims(const Array& a, const char* name, std::initializer_list<std::int64_t> want);
// Row-major with unit inner stride; returns the leading dimension (elements between rows of the
// last two dimensions); every outer dimension packed over those rows.
std::int64_t row_stride(const Array& a, const char* name);
void check_contiguous(const Array& a, const char* name);
std::string shape_text(const Array& a);
std::string stride_text(const Array& a);

// A CUDA stream given as an integer handle (torch's Stream.cuda_stream, CuPy's Stream.ptr); 0
// is the legacy default stream.
inline CUstream as_stream(std::uintptr_t handle) { return reinterpret_cast<CUstream>(handle); }

}  // namespace shapejit::python

namespace shapejit::python {
// shape[0..] packed with the given strides (elements), ignoring dimensions of size 1.
void check_strides(const Array& a, const char* name, std::initializer_list<std::int64_t> strides,
                   const char* layout);
}  // namespace shapejit::python
