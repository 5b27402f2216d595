// The MoE layer from Python: its config, a workspace of device buffers, the whole layer and its
// six steps (route, dispatch, gate/up GEMM, SwiGLU + quantize, down GEMM, combine). Between the
// steps the intermediates live in the workspace; workspace.views(T) exposes them as DLPack
// tensors (e.g. for an expert-parallel exchange between dispatch and the GEMMs).
#include <nanobind/stl/string.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/moe.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tensor_args.hpp"

namespace shapejit::python {
namespace {

using runtime::MoeConfig;
using runtime::MoeWorkspace;
using runtime::Runtime;

Runtime& pick(Runtime* r) { return r ? *r : Runtime::global(); }

// The workspace and the config it was sized for (views need both).
struct Workspace {
  MoeConfig config;
  std::unique_ptr<MoeWorkspace> ws;
};

struct Weights {
  runtime::MoeWeights w;
};

Weights check_weights(Tensors& t, const MoeConfig& c, const Array& w13, const Array& w13_scales, const Array& w2,
                      const Array& w2_scales) {
  Weights out;
  const std::int64_t E = c.num_experts, H = c.hidden, I = c.intermediate;
  out.w.w13 = t.ptr(w13, "w13", Elem::e4m3, 3);
  check_dims(w13, "w13", {E, 2 * I, H});
  check_contiguous(w13, "w13");
  out.w.w13_scales = t.ptr(w13_scales, "w13_scales", Elem::f32, 3);
  check_dims(w13_scales, "w13_scales", {E, 2 * I / 128, H / 128});
  check_contiguous(w13_scales, "w13_scales");
  out.w.w2 = t.ptr(w2, "w2", Elem::e4m3, 3);
  check_dims(w2, "w2", {E, H, I});
  check_contiguous(w2, "w2");
  out.w.w2_scales = t.ptr(w2_scales, "w2_scales", Elem::f32, 3);
  check_dims(w2_scales, "w2_scales", {E, H / 128, I / 128});
  check_contiguous(w2_scales, "w2_scales");
  return out;
}

int tokens_of(const Workspace& w, int num_tokens) {
  if (num_tokens < 0 || num_tokens > w.ws->max_tokens())
    fail(Errc::invalid_argument, "num_tokens " + std::to_string(num_tokens) + " is outside the workspace's 0.." +
                                     std::to_string(w.ws->max_tokens()));
  return num_tokens;
}

// A view of workspace memory as a DLPack CUDA tensor, kept alive by the workspace object.
nb::ndarray<> view(nb::handle owner, CUdeviceptr ptr, std::initializer_list<size_t> shape, nb::dlpack::dtype dt,
                   std::initializer_list<std::int64_t> strides = {}) {
  return nb::ndarray<>(reinterpret_cast<void*>(ptr), shape.size(), shape.begin(), owner,
                       strides.size() ? strides.begin() : nullptr, dt, nb::device::cuda::value,
                       runtime::current_device().ordinal);
}

}  // namespace

void bind_moe(nb::module_& m) {
  nb::class_<MoeConfig>(m, "MoeConfig", "A MoE layer's static description (runtime/moe/include/shapejit/runtime/moe.hpp).")
      .def("__init__",
           [](MoeConfig* self, int hidden, int intermediate, int num_experts, int top_k, int expert_begin,
              const std::string& layout, int align_m, int max_tokens_per_expert) {
             MoeConfig c;
             c.hidden = hidden;
             c.intermediate = intermediate;
             c.num_experts = num_experts;
             c.top_k = top_k;
             c.expert_begin = expert_begin;
             if (layout == "contiguous") c.layout = runtime::MoeLayout::contiguous;
             else if (layout == "masked") c.layout = runtime::MoeLayout::masked;
             else fail(Errc::invalid_argument, "layout must be 'contiguous' or 'masked', got '" + layout + "'");
             c.align_m = align_m;
             c.max_tokens_per_expert = max_tokens_per_expert;
             runtime::validate(c);
             new (self) MoeConfig(c);
           },
           nb::arg("hidden") = 7168, nb::arg("intermediate") = 2048, nb::arg("num_experts") = 32,
           nb::arg("top_k") = 8, nb::arg("expert_begin") = 0, nb::arg("layout") = "contiguous",
           nb::arg("align_m") = 128, nb::arg("max_tokens_per_expert") = 0,
           "hidden H, intermediate I (per expert; gate/up has N = 2I), num_experts E local to this GPU, top_k, "
           "expert_begin (global id of local expert 0), layout 'contiguous' (prefill) or 'masked' (decode, "
           "CUDA graphs; needs max_tokens_per_expert), align_m (contiguous: 64/128/256).")
      .def_ro("hidden", &MoeConfig::hidden)
      .def_ro("intermediate", &MoeConfig::intermediate)
      .def_ro("num_experts", &MoeConfig::num_experts)
      .def_ro("top_k", &MoeConfig::top_k)
      .def_ro("expert_begin", &MoeConfig::expert_begin)
      .def_prop_ro("layout", [](const MoeConfig& c) {
        return c.layout == runtime::MoeLayout::contiguous ? "contiguous" : "masked";
      })
      .def_ro("align_m", &MoeConfig::align_m)
      .def_ro("max_tokens_per_expert", &MoeConfig::max_tokens_per_expert)
      .def("num_rows", [](const MoeConfig& c, int t) { return runtime::moe_num_rows(c, t); }, nb::arg("num_tokens"),
           "Rows of the expert-major buffers for num_tokens tokens.")
      .def("workspace_bytes", [](const MoeConfig& c, int t) { return MoeWorkspace::bytes_needed(c, t); },
           nb::arg("max_tokens"), "Device bytes a MoeWorkspace for up to max_tokens tokens allocates.");

  nb::class_<Workspace>(m, "MoeWorkspace",
                        "Device buffers for every intermediate of a layer, for up to max_tokens tokens (needs a GPU).")
      .def("__init__",
           [](Workspace* self, const MoeConfig& c, int max_tokens) {
             new (self) Workspace{c, std::make_unique<MoeWorkspace>(c, max_tokens)};
           },
           nb::arg("config"), nb::arg("max_tokens"))
      .def_prop_ro("max_tokens", [](const Workspace& w) { return w.ws->max_tokens(); })
      .def("views",
           [](nb::handle self, int num_tokens) {
             const Workspace& w = nb::cast<const Workspace&>(self);
             const int t = tokens_of(w, num_tokens);
             const MoeConfig& c = w.config;
             const size_t rows = size_t(runtime::moe_num_rows(c, t)), E = size_t(c.num_experts);
             const size_t H = size_t(c.hidden), I = size_t(c.intermediate);
             const auto r = w.ws->routing();
             const auto xq = w.ws->xq(t), aq = w.ws->aq(t);
             const nb::dlpack::dtype i32{0, 32, 1}, u8{1, 8, 1}, f32{2, 32, 1}, bf16{4, 16, 1};
             nb::dict d;
             d["tokens_per_expert"] = view(self, r.tokens_per_expert, {E}, i32);
             d["row_begin"] = view(self, r.row_begin, {E + 1}, i32);
             d["m_indices"] = view(self, r.m_indices, {rows}, i32);
             d["row_to_token"] = view(self, r.row_to_token, {rows}, i32);
             d["token_slot"] = view(self, r.token_slot, {size_t(t), size_t(c.top_k)}, i32);
             const std::int64_t xs = xq.scale_stride, as = aq.scale_stride;
             d["xq"] = view(self, xq.data, {rows, H}, u8);
             d["xq_scales"] = view(self, xq.scales, {rows, H / 128}, f32, {1, xs});
             d["h"] = view(self, w.ws->h(), {rows, 2 * I}, bf16);
             d["aq"] = view(self, aq.data, {rows, I}, u8);
             d["aq_scales"] = view(self, aq.scales, {rows, I / 128}, f32, {1, as});
             d["y"] = view(self, w.ws->y(), {rows, H}, bf16);
             return d;
           },
           nb::arg("num_tokens"),
           "The workspace's buffers for a call with num_tokens tokens, as DLPack CUDA tensors (torch.from_dlpack): "
           "routing (tokens_per_expert, row_begin, m_indices, row_to_token, token_slot), xq/xq_scales, h, "
           "aq/aq_scales, y; FP8 data as uint8, scales M-major.");

  m.def("moe_layer",
        [](const MoeConfig& c, const Array& x, const Array& topk_idx, const Array& topk_weights, const Array& w13,
           const Array& w13_scales, const Array& w2, const Array& w2_scales, const Array& out, Workspace& ws,
           std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const CUdeviceptr px = t.ptr(x, "x", Elem::bf16, 2);
          const int n = tokens_of(ws, int(x.shape(0)));
          check_dims(x, "x", {n, c.hidden});
          check_contiguous(x, "x");
          const CUdeviceptr pi = t.ptr(topk_idx, "topk_idx", Elem::i32, 2);
          check_dims(topk_idx, "topk_idx", {n, c.top_k});
          check_contiguous(topk_idx, "topk_idx");
          const CUdeviceptr pw = t.ptr(topk_weights, "topk_weights", Elem::f32, 2);
          check_dims(topk_weights, "topk_weights", {n, c.top_k});
          check_contiguous(topk_weights, "topk_weights");
          const CUdeviceptr po = t.ptr(out, "out", Elem::bf16, 2);
          check_dims(out, "out", {n, c.hidden});
          check_contiguous(out, "out");
          const Weights w = check_weights(t, c, w13, w13_scales, w2, w2_scales);
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_layer(c, n, px, pi, pw, w.w, po, *ws.ws, as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("x"), nb::arg("topk_idx"), nb::arg("topk_weights"), nb::arg("w13"),
        nb::arg("w13_scales"), nb::arg("w2"), nb::arg("w2_scales"), nb::arg("out"), nb::arg("workspace"),
        nb::arg("stream"), nb::arg("runtime").none());

  m.def("moe_route",
        [](const MoeConfig& c, const Array& topk_idx, Workspace& ws, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const CUdeviceptr pi = t.ptr(topk_idx, "topk_idx", Elem::i32, 2);
          const int n = tokens_of(ws, int(topk_idx.shape(0)));
          check_dims(topk_idx, "topk_idx", {n, c.top_k});
          check_contiguous(topk_idx, "topk_idx");
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_route(c, n, pi, ws.ws->routing(), as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("topk_idx"), nb::arg("workspace"), nb::arg("stream"), nb::arg("runtime").none());
  m.def("moe_dispatch",
        [](const MoeConfig& c, const Array& x, Workspace& ws, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const CUdeviceptr px = t.ptr(x, "x", Elem::bf16, 2);
          const int n = tokens_of(ws, int(x.shape(0)));
          check_dims(x, "x", {n, c.hidden});
          check_contiguous(x, "x");
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_dispatch(c, n, px, ws.ws->routing(), ws.ws->xq(n), as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("x"), nb::arg("workspace"), nb::arg("stream"), nb::arg("runtime").none());
  m.def("moe_gate_up",
        [](const MoeConfig& c, int num_tokens, const Array& w13, const Array& w13_scales, const Array& w2,
           const Array& w2_scales, Workspace& ws, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const int n = tokens_of(ws, num_tokens);
          const Weights w = check_weights(t, c, w13, w13_scales, w2, w2_scales);
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_gate_up(c, n, ws.ws->xq(n), w.w, ws.ws->routing(), ws.ws->h(), as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("num_tokens"), nb::arg("w13"), nb::arg("w13_scales"), nb::arg("w2"),
        nb::arg("w2_scales"), nb::arg("workspace"), nb::arg("stream"), nb::arg("runtime").none());
  m.def("moe_swiglu",
        [](const MoeConfig& c, int num_tokens, Workspace& ws, std::uintptr_t stream, Runtime* rt) {
          const int n = tokens_of(ws, num_tokens);
          nb::gil_scoped_release unlocked;
          runtime::moe_swiglu(c, n, ws.ws->h(), ws.ws->routing(), ws.ws->aq(n), as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("num_tokens"), nb::arg("workspace"), nb::arg("stream"), nb::arg("runtime").none());
  m.def("moe_down",
        [](const MoeConfig& c, int num_tokens, const Array& w13, const Array& w13_scales, const Array& w2,
           const Array& w2_scales, Workspace& ws, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const int n = tokens_of(ws, num_tokens);
          const Weights w = check_weights(t, c, w13, w13_scales, w2, w2_scales);
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_down(c, n, ws.ws->aq(n), w.w, ws.ws->routing(), ws.ws->y(), as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("num_tokens"), nb::arg("w13"), nb::arg("w13_scales"), nb::arg("w2"),
        nb::arg("w2_scales"), nb::arg("workspace"), nb::arg("stream"), nb::arg("runtime").none());
  m.def("moe_combine",
        [](const MoeConfig& c, const Array& topk_weights, const Array& out, Workspace& ws, std::uintptr_t stream,
           Runtime* rt) {
          Tensors t;
          const CUdeviceptr pw = t.ptr(topk_weights, "topk_weights", Elem::f32, 2);
          const int n = tokens_of(ws, int(topk_weights.shape(0)));
          check_dims(topk_weights, "topk_weights", {n, c.top_k});
          check_contiguous(topk_weights, "topk_weights");
          const CUdeviceptr po = t.ptr(out, "out", Elem::bf16, 2);
          check_dims(out, "out", {n, c.hidden});
          check_contiguous(out, "out");
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::moe_combine(c, n, ws.ws->y(), ws.ws->routing(), pw, po, as_stream(stream), pick(rt));
        },
        nb::arg("config"), nb::arg("topk_weights"), nb::arg("out"), nb::arg("workspace"), nb::arg("stream"),
        nb::arg("runtime").none());
}

}  // namespace shapejit::python
