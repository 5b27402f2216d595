// Per-token-group FP8 quantization and the GEMMs (FP8 NT, BF16 NT, grouped contiguous, grouped
// masked) on DLPack tensors. Shapes come from the tensors; the front ends (runtime/quant,
// runtime/gemm) check the rest before any driver call. The GIL is released for the call (a
// first call may compile).
#include <nanobind/stl/string.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tensor_args.hpp"

namespace shapejit::python {
namespace {

using runtime::Runtime;

Runtime& pick(Runtime* r) { return r ? *r : Runtime::global(); }

// A scales in shapejit's M-major layout, seen as DeepGEMM's MN-major [rows, K/128] tensor:
// strides (1, s) with s a multiple of 4 >= rows (the front end checks s). Returns s.
std::int64_t m_major_stride(const Array& a, const char* name) {
  const std::int64_t rows = static_cast<std::int64_t>(a.shape(0));
  if (rows > 1 && a.stride(0) != 1)
    fail(Errc::invalid_argument,
         std::string(name) + ": needs M-major scales (DeepGEMM's MN-major TMA-aligned layout): shape [M, K/128] "
                             "with strides (1, s), s a multiple of 4 >= M; got strides " + stride_text(a) +
             " for shape " + shape_text(a) + " (shapejit.m_major_scales() converts; quantize with "
             "scale_layout='m_major' to get it directly)");
  return a.shape(1) > 1 ? a.stride(1) : (rows + 3) / 4 * 4;
}

}  // namespace

void bind_gemm(nb::module_& m) {
  m.def("quantize_fp8_per_token_group",
        [](const Array& x, const Array& q, const Array& scales, int group_size, const std::string& scale_layout,
           std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::QuantFp8Args a;
          a.x = t.ptr(x, "x", Elem::bf16, 2);
          a.q = t.ptr(q, "q", Elem::e4m3, 2);
          a.scales = t.ptr(scales, "scales", Elem::f32, 2);
          a.m = int(x.shape(0));
          a.k = int(x.shape(1));
          a.group_size = group_size;
          check_contiguous(x, "x");
          check_contiguous(q, "q");
          check_dims(q, "q", {a.m, a.k});
          if (group_size <= 0 || a.k % group_size != 0)
            fail(Errc::invalid_argument, "group_size " + std::to_string(group_size) + " must divide K = " +
                                             std::to_string(a.k));
          check_dims(scales, "scales", {a.m, a.k / group_size});
          if (scale_layout == "row_major") {
            a.layout = runtime::ScaleLayout::row_major;
            check_strides(scales, "scales", {a.k / group_size, 1}, "row-major");
          } else if (scale_layout == "m_major") {
            a.layout = runtime::ScaleLayout::m_major;
            check_strides(scales, "scales", {1, (std::int64_t(a.m) + 3) / 4 * 4}, "M-major (stride align_up(M, 4))");
          } else {
            fail(Errc::invalid_argument, "scale_layout must be 'row_major' or 'm_major', got '" + scale_layout + "'");
          }
          runtime::validate(a);   // host-side checks first: they need no driver
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::quantize_fp8_per_token_group(a, as_stream(stream), pick(rt));
        },
        nb::arg("x"), nb::arg("q"), nb::arg("scales"), nb::arg("group_size"), nb::arg("scale_layout"),
        nb::arg("stream"), nb::arg("runtime").none());

  m.def("gemm_fp8_nt",
        [](const Array& a, const Array& a_scales, const Array& b, const Array& b_scales, const Array& d,
           std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::GemmFp8Args g;
          g.a = t.ptr(a, "a", Elem::e4m3, 2);
          g.b = t.ptr(b, "b", Elem::e4m3, 2);
          g.d = t.ptr(d, "d", Elem::bf16, 2);
          g.a_scales = t.ptr(a_scales, "a_scales", Elem::f32, 2);
          g.b_scales = t.ptr(b_scales, "b_scales", Elem::f32, 2);
          g.m = int(a.shape(0));
          g.k = int(a.shape(1));
          g.n = int(b.shape(0));
          check_dims(b, "b", {g.n, g.k});
          check_dims(d, "d", {g.m, g.n});
          check_dims(a_scales, "a_scales", {g.m, (g.k + 127) / 128});
          check_dims(b_scales, "b_scales", {(g.n + 127) / 128, (g.k + 127) / 128});
          check_contiguous(b_scales, "b_scales");
          g.lda = row_stride(a, "a");
          g.ldb = row_stride(b, "b");
          g.ldd = row_stride(d, "d");
          g.a_scale_stride = m_major_stride(a_scales, "a_scales");
          runtime::validate(g);   // host-side checks first: they need no driver
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::gemm_fp8_nt(g, as_stream(stream), pick(rt));
        },
        nb::arg("a"), nb::arg("a_scales"), nb::arg("b"), nb::arg("b_scales"), nb::arg("d"), nb::arg("stream"),
        nb::arg("runtime").none());

  // The C++ side of bench/python/gemm_call_overhead.py: the same gemm_fp8_nt call as above,
  // `iters` times from C++ (arguments converted once), host seconds for the whole loop.
  m.def("_gemm_fp8_nt_host_loop",
        [](const Array& a, const Array& a_scales, const Array& b, const Array& b_scales, const Array& d,
           std::uintptr_t stream, Runtime* rt, int iters) {
          Tensors t;
          runtime::GemmFp8Args g;
          g.a = t.ptr(a, "a", Elem::e4m3, 2);
          g.b = t.ptr(b, "b", Elem::e4m3, 2);
          g.d = t.ptr(d, "d", Elem::bf16, 2);
          g.a_scales = t.ptr(a_scales, "a_scales", Elem::f32, 2);
          g.b_scales = t.ptr(b_scales, "b_scales", Elem::f32, 2);
          g.m = int(a.shape(0));
          g.k = int(a.shape(1));
          g.n = int(b.shape(0));
          g.lda = row_stride(a, "a");
          g.ldb = row_stride(b, "b");
          g.ldd = row_stride(d, "d");
          g.a_scale_stride = m_major_stride(a_scales, "a_scales");
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          Runtime& r = pick(rt);
          const auto start = std::chrono::steady_clock::now();
          for (int i = 0; i < iters; ++i) runtime::gemm_fp8_nt(g, as_stream(stream), r);
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        },
        nb::arg("a"), nb::arg("a_scales"), nb::arg("b"), nb::arg("b_scales"), nb::arg("d"), nb::arg("stream"),
        nb::arg("runtime").none(), nb::arg("iters"));

  m.def("gemm_bf16_nt",
        [](const Array& a, const Array& b, const Array& d, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::GemmBf16Args g;
          g.a = t.ptr(a, "a", Elem::bf16, 2);
          g.b = t.ptr(b, "b", Elem::bf16, 2);
          const bool f32 = d.dtype().code == 2 && d.dtype().bits == 32;
          g.d = t.ptr(d, "d", f32 ? Elem::f32 : Elem::bf16, 2);
          g.d_dtype = f32 ? runtime::DType::f32 : runtime::DType::bf16;
          g.m = int(a.shape(0));
          g.k = int(a.shape(1));
          g.n = int(b.shape(0));
          check_dims(b, "b", {g.n, g.k});
          check_dims(d, "d", {g.m, g.n});
          g.lda = row_stride(a, "a");
          g.ldb = row_stride(b, "b");
          g.ldd = row_stride(d, "d");
          runtime::validate(g);   // host-side checks first: they need no driver
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::gemm_bf16_nt(g, as_stream(stream), pick(rt));
        },
        nb::arg("a"), nb::arg("b"), nb::arg("d"), nb::arg("stream"), nb::arg("runtime").none());

  m.def("gemm_fp8_grouped_contiguous",
        [](const Array& a, const Array& a_scales, const Array& b, const Array& b_scales, const Array& d,
           const Array& m_indices, int align_m, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::GemmFp8GroupedContiguousArgs g;
          g.a = t.ptr(a, "a", Elem::e4m3, 2);
          g.b = t.ptr(b, "b", Elem::e4m3, 3);
          g.d = t.ptr(d, "d", Elem::bf16, 2);
          g.a_scales = t.ptr(a_scales, "a_scales", Elem::f32, 2);
          g.b_scales = t.ptr(b_scales, "b_scales", Elem::f32, 3);
          g.m_indices = t.ptr(m_indices, "m_indices", Elem::i32, 1);
          g.m_sum = int(a.shape(0));
          g.k = int(a.shape(1));
          g.num_groups = int(b.shape(0));
          g.n = int(b.shape(1));
          g.align_m = align_m;
          check_dims(b, "b", {g.num_groups, g.n, g.k});
          check_dims(d, "d", {g.m_sum, g.n});
          check_dims(m_indices, "m_indices", {g.m_sum});
          check_dims(a_scales, "a_scales", {g.m_sum, (g.k + 127) / 128});
          check_dims(b_scales, "b_scales", {g.num_groups, (g.n + 127) / 128, (g.k + 127) / 128});
          for (auto [t, name] : {std::pair{&a, "a"}, {&b, "b"}, {&d, "d"}, {&m_indices, "m_indices"}, {&b_scales, "b_scales"}})
            check_contiguous(*t, name);
          g.a_scale_stride = m_major_stride(a_scales, "a_scales");
          runtime::validate(g);   // host-side checks first: they need no driver
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::gemm_fp8_grouped_contiguous(g, as_stream(stream), pick(rt));
        },
        nb::arg("a"), nb::arg("a_scales"), nb::arg("b"), nb::arg("b_scales"), nb::arg("d"), nb::arg("m_indices"),
        nb::arg("align_m"), nb::arg("stream"), nb::arg("runtime").none());

  m.def("gemm_fp8_grouped_masked",
        [](const Array& a, const Array& a_scales, const Array& b, const Array& b_scales, const Array& d,
           const Array& masked_m, int expected_m, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::GemmFp8GroupedMaskedArgs g;
          g.a = t.ptr(a, "a", Elem::e4m3, 3);
          g.b = t.ptr(b, "b", Elem::e4m3, 3);
          g.d = t.ptr(d, "d", Elem::bf16, 3);
          g.a_scales = t.ptr(a_scales, "a_scales", Elem::f32, 3);
          g.b_scales = t.ptr(b_scales, "b_scales", Elem::f32, 3);
          g.masked_m = t.ptr(masked_m, "masked_m", Elem::i32, 1);
          g.num_groups = int(a.shape(0));
          g.m_max = int(a.shape(1));
          g.k = int(a.shape(2));
          g.n = int(b.shape(1));
          g.expected_m = expected_m;
          check_dims(b, "b", {g.num_groups, g.n, g.k});
          check_dims(d, "d", {g.num_groups, g.m_max, g.n});
          check_dims(masked_m, "masked_m", {g.num_groups});
          check_dims(a_scales, "a_scales", {g.num_groups, g.m_max, (g.k + 127) / 128});
          check_dims(b_scales, "b_scales", {g.num_groups, (g.n + 127) / 128, (g.k + 127) / 128});
          for (auto [t, name] : {std::pair{&a, "a"}, {&b, "b"}, {&d, "d"}, {&masked_m, "masked_m"}, {&b_scales, "b_scales"}})
            check_contiguous(*t, name);
          // One M-major block over all G·M_max rows: [G, M_max, K/128] with strides (M_max, 1, s).
          const std::int64_t s = a_scales.shape(2) > 1 ? a_scales.stride(2) : (std::int64_t(g.num_groups) * g.m_max + 3) / 4 * 4;
          check_strides(a_scales, "a_scales", {g.m_max, 1, s},
                        "M-major over all groups' rows ([G·M_max] rows, one column per K block)");
          g.a_scale_stride = s;
          runtime::validate(g);   // host-side checks first: they need no driver
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::gemm_fp8_grouped_masked(g, as_stream(stream), pick(rt));
        },
        nb::arg("a"), nb::arg("a_scales"), nb::arg("b"), nb::arg("b_scales"), nb::arg("d"), nb::arg("masked_m"),
        nb::arg("expected_m"), nb::arg("stream"), nb::arg("runtime").none());
}

}  // namespace shapejit::python
