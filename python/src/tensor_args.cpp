#include "tensor_args.hpp"

#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::python {
namespace {

// DLPack type codes (dlpack.h): the float8 codes arrived in DLPack 1.1.
constexpr std::uint8_t kInt = 0, kUInt = 1, kFloat = 2, kBfloat = 4, kFloat8E4M3 = 8, kFloat8E4M3FN = 10;

std::string dtype_text(const Array& a) {
  const auto d = a.dtype();
  std::string base;
  switch (d.code) {
    case kInt: base = "int"; break;
    case kUInt: base = "uint"; break;
    case kFloat: base = "float"; break;
    case kBfloat: base = "bfloat"; break;
    case kFloat8E4M3: case kFloat8E4M3FN: return "float8_e4m3";
    default: base = "dlpack-code-" + std::to_string(d.code) + "-"; break;
  }
  return base + std::to_string(d.bits);
}

bool matches(const Array& a, Elem elem) {
  const auto d = a.dtype();
  if (d.lanes != 1) return false;
  switch (elem) {
    case Elem::e4m3:
      return d.bits == 8 && (d.code == kUInt || d.code == kInt || d.code == kFloat8E4M3 || d.code == kFloat8E4M3FN);
    case Elem::bf16: return d.code == kBfloat && d.bits == 16;
    case Elem::f32: return d.code == kFloat && d.bits == 32;
    case Elem::i32: return d.code == kInt && d.bits == 32;
  }
  return false;
}

std::string device_text(const Array& a) {
  switch (a.device_type()) {
    case nb::device::cpu::value: return "the CPU";
    case nb::device::cuda::value: return "cuda:" + std::to_string(a.device_id());
    case nb::device::cuda_host::value: return "pinned host memory";
    case nb::device::cuda_managed::value: return "CUDA managed memory";
    default: return "DLPack device type " + std::to_string(a.device_type());
  }
}

[[noreturn]] void bad(const char* name, const std::string& what) {
  fail(Errc::invalid_argument, std::string(name) + ": " + what);
}

}  // namespace

const char* elem_name(Elem e) {
  switch (e) {
    case Elem::e4m3: return "float8_e4m3fn (or uint8 holding E4M3 bits)";
    case Elem::bf16: return "bfloat16";
    case Elem::f32: return "float32";
    case Elem::i32: return "int32";
  }
  return "?";
}

std::string shape_text(const Array& a) {
  std::string s = "[";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

std::string stride_text(const Array& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.stride(i));
  return s + ")";
}

CUdeviceptr Tensors::ptr(const Array& a, const char* name, Elem elem, int rank) {
  if (a.device_type() != nb::device::cuda::value)
    bad(name, "needs CUDA device memory, got a tensor on " + device_text(a) +
                  " (shapejit's kernels run on the GPU: move it with .cuda() or cupy.asarray)");
  if (!matches(a, elem)) bad(name, std::string("needs dtype ") + elem_name(elem) + ", got " + dtype_text(a));
  if (static_cast<int>(a.ndim()) != rank)
    bad(name, "needs " + std::to_string(rank) + " dimensions, got " + std::to_string(a.ndim()) + " " + shape_text(a));
  seen_.push_back({name, int(a.device_id())});
  return reinterpret_cast<CUdeviceptr>(a.data());
}

void Tensors::on_current_device() const {
  if (seen_.empty()) return;
  const int current = runtime::current_device().ordinal;
  for (const Seen& s : seen_)
    if (s.device_id != current)
      bad(s.name, "is on cuda:" + std::to_string(s.device_id) + " but the current device is cuda:" +
                      std::to_string(current) + " (torch.cuda.set_device, or pass tensors of one device)");
}

void check_dims(const Array& a, const char* name, std::initializer_list<std::int64_t> want) {
  bool ok = want.size() == a.ndim();
  size_t i = 0;
  for (std::int64_t w : want) {
    if (ok && w >= 0 && static_cast<std::int64_t>(a.shape(i)) != w) ok = false;
    ++i;
  }
  if (ok) return;
  std::string s = "[";
  i = 0;
  for (std::int64_t w : want) s += (i++ ? ", " : "") + (w >= 0 ? std::to_string(w) : std::string("*"));
  bad(name, "needs shape " + s + "], got " + shape_text(a));
}

std::int64_t row_stride(const Array& a, const char* name) {
  const size_t n = a.ndim();
  if (n == 0) return 0;
  if (a.shape(n - 1) > 1 && a.stride(n - 1) != 1)
    bad(name, "needs unit stride in its last dimension (row-major), got strides " + stride_text(a) +
                  " for shape " + shape_text(a) + " (call .contiguous())");
  if (n == 1) return a.shape(0);
  const std::int64_t ld = a.shape(n - 2) > 1 ? a.stride(n - 2) : static_cast<std::int64_t>(a.shape(n - 1));
  if (ld < static_cast<std::int64_t>(a.shape(n - 1)))
    bad(name, "has overlapping rows: strides " + stride_text(a) + " for shape " + shape_text(a));
  std::int64_t expect = ld * static_cast<std::int64_t>(a.shape(n - 2));
  for (size_t d = n - 2; d-- > 0;) {
    if (a.shape(d) > 1 && a.stride(d) != expect)
      bad(name, "needs its outer dimensions packed over its rows, got strides " + stride_text(a) +
                    " for shape " + shape_text(a) + " (call .contiguous())");
    expect *= static_cast<std::int64_t>(a.shape(d));
  }
  return ld;
}

void check_contiguous(const Array& a, const char* name) {
  std::int64_t expect = 1;
  for (size_t d = a.ndim(); d-- > 0;) {
    if (a.shape(d) > 1 && a.stride(d) != expect)
      bad(name, "needs a contiguous (row-major, packed) tensor, got strides " + stride_text(a) +
                    " for shape " + shape_text(a) + " (call .contiguous())");
    expect *= static_cast<std::int64_t>(a.shape(d));
  }
}

}  // namespace shapejit::python

namespace shapejit::python {

CUdeviceptr Tensors::buffer(const Array& a, const char* name, std::size_t min_bytes) {
  if (a.device_type() != nb::device::cuda::value)
    fail(Errc::invalid_argument, std::string(name) + ": needs CUDA device memory, got a tensor on " +
                                     (a.device_type() == nb::device::cpu::value ? std::string("the CPU")
                                                                                : "device type " + std::to_string(a.device_type())));
  check_contiguous(a, name);
  if (a.nbytes() < min_bytes)
    fail(Errc::invalid_argument, std::string(name) + ": needs at least " + std::to_string(min_bytes) + " bytes, got " +
                                     std::to_string(a.nbytes()));
  seen_.push_back({name, int(a.device_id())});
  return reinterpret_cast<CUdeviceptr>(a.data());
}

void check_strides(const Array& a, const char* name, std::initializer_list<std::int64_t> strides, const char* layout) {
  size_t d = 0;
  for (std::int64_t s : strides) {
    if (d < a.ndim() && a.shape(d) > 1 && a.stride(d) != s) {
      std::string want = "(";
      size_t i = 0;
      for (std::int64_t w : strides) want += (i++ ? ", " : "") + std::to_string(w);
      fail(Errc::invalid_argument, std::string(name) + ": needs the " + layout + " layout, strides " + want +
                                       ") for shape " + shape_text(a) + ", got strides " + stride_text(a));
    }
    ++d;
  }
}

}  // namespace shapejit::python
