// The C++ host references of the ops, on NumPy arrays, for the Python GPU tests (the oracle the
// C++ GPU tests use): FP8 quantization (bit-exact), MLA decode (FP32, with the error-bound
// terms), MoE routing layout.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/quant.hpp"

namespace shapejit::python {
namespace {

template <typename T>
using Host = nb::ndarray<const T, nb::c_contig, nb::device::cpu>;

template <typename T>
nb::ndarray<nb::numpy, T> owned(std::vector<T>&& values, std::initializer_list<size_t> shape) {
  auto* heap = new std::vector<T>(std::move(values));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T>(heap->data(), shape.size(), shape.begin(), owner);
}

template <typename T>
std::span<const T> span(const Host<T>& a) {
  return {a.data(), a.size()};
}

}  // namespace

void bind_reference(nb::module_& m) {
  m.def("reference_quantize_fp8",
        [](const Host<std::uint16_t>& x_bits, int group_size, const std::string& scale_layout) {
          if (x_bits.ndim() != 2) fail(Errc::invalid_argument, "x_bits: needs [M, K] uint16 (BF16 bits)");
          const int mm = int(x_bits.shape(0)), k = int(x_bits.shape(1));
          const auto layout = scale_layout == "m_major" ? runtime::ScaleLayout::m_major : runtime::ScaleLayout::row_major;
          std::vector<std::uint8_t> q(size_t(mm) * size_t(k));
          std::vector<float> s(size_t(runtime::quant_scale_elements(mm, k, group_size, layout)));
          runtime::quantize_fp8_per_token_group_reference(x_bits.data(), q.data(), s.data(), mm, k, group_size, layout);
          const size_t n = s.size();
          return nb::make_tuple(owned(std::move(q), {size_t(mm), size_t(k)}), owned(std::move(s), {n}));
        },
        nb::arg("x_bits"), nb::arg("group_size"), nb::arg("scale_layout"),
        "Bit-exact host quantization: (E4M3 bits [M, K] uint8, scales as stored, flat FP32).");
  m.def("reference_mla_decode",
        [](const Host<std::uint16_t>& q_bits, const Host<std::uint8_t>& k_cache_bytes, const Host<std::int32_t>& block_table,
           const Host<std::int32_t>& cache_seqlens, int page_size, const std::string& kv_dtype, float softmax_scale) {
          if (q_bits.ndim() != 4 || block_table.ndim() != 2)
            fail(Errc::invalid_argument, "q_bits [B, s_q, h_q, 576] and block_table [B, max_blocks] expected");
          runtime::MlaConfig c;
          c.seq_q = int(q_bits.shape(1));
          c.num_heads_q = int(q_bits.shape(2));
          c.page_size = page_size;
          c.kv_dtype = kv_dtype == "fp8" ? runtime::MlaKvDtype::fp8_e4m3 : runtime::MlaKvDtype::bf16;
          runtime::validate(c);
          const size_t b = q_bits.shape(0), s = size_t(c.seq_q), h = size_t(c.num_heads_q);
          std::vector<float> out(b * s * h * 512), lse(b * h * s), abs_out(out.size()), max_logit(lse.size());
          runtime::mla_decode_reference(c, int(b), int(block_table.shape(1)), softmax_scale, span(q_bits),
                                        span(k_cache_bytes), span(block_table), span(cache_seqlens), out, lse,
                                        abs_out, max_logit);
          return nb::make_tuple(owned(std::move(out), {b, s, h, 512}), owned(std::move(lse), {b, h, s}),
                                owned(std::move(abs_out), {b, s, h, 512}), owned(std::move(max_logit), {b, h, s}));
        },
        nb::arg("q_bits"), nb::arg("k_cache_bytes"), nb::arg("block_table"), nb::arg("cache_seqlens"),
        nb::arg("page_size"), nb::arg("kv_dtype"), nb::arg("softmax_scale"),
        "FP32 host MLA decode: (out, lse, abs_out, max_abs_logit); see runtime/mla.hpp.");
  m.def("reference_moe_route",
        [](const runtime::MoeConfig& c, const Host<std::int32_t>& topk_idx) {
          if (topk_idx.ndim() != 2) fail(Errc::invalid_argument, "topk_idx: needs [T, k] int32");
          const int t = int(topk_idx.shape(0));
          runtime::MoeRoutingHost r = runtime::moe_route_reference(c, t, span(topk_idx));
          nb::dict d;
          const auto put = [&](const char* name, std::vector<int>& v) { d[name] = owned(std::move(v), {v.size()}); };
          put("tokens_per_expert", r.tokens_per_expert);
          put("row_begin", r.row_begin);
          put("m_indices", r.m_indices);
          put("row_to_token", r.row_to_token);
          put("token_slot", r.token_slot);
          return d;
        },
        nb::arg("config"), nb::arg("topk_idx"), "The host routing layout (the oracle of moe_route), flat int32 arrays.");
}

}  // namespace shapejit::python
