// MLA decode from Python: sizes of the metadata and workspace buffers, the GPU scheduler
// (FlashMLA's get_mla_metadata) and the decode (flash_mla_with_kvcache). The config (heads,
// query tokens, page size, KV dtype) is read from the tensors where they hold it.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <string>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "tensor_args.hpp"

namespace shapejit::python {
namespace {

using runtime::Runtime;

Runtime& pick(Runtime* r) { return r ? *r : Runtime::global(); }

runtime::MlaConfig make_config(int num_heads_q, int seq_q, int page_size, const std::string& kv_dtype,
                               const std::string& load_path) {
  runtime::MlaConfig c;
  c.num_heads_q = num_heads_q;
  c.seq_q = seq_q;
  c.page_size = page_size;
  if (kv_dtype == "bf16") c.kv_dtype = runtime::MlaKvDtype::bf16;
  else if (kv_dtype == "fp8") c.kv_dtype = runtime::MlaKvDtype::fp8_e4m3;
  else fail(Errc::invalid_argument, "kv_dtype must be 'bf16' or 'fp8', got '" + kv_dtype + "'");
  if (load_path == "cp_async") c.load_path = runtime::MlaLoadPath::cp_async;
  else if (load_path == "tma") c.load_path = runtime::MlaLoadPath::tma;
  else fail(Errc::invalid_argument, "load_path must be 'cp_async' or 'tma', got '" + load_path + "'");
  runtime::validate(c);
  return c;
}

int target_sms(Runtime& rt) { return rt.target(runtime::current_device()).num_sms; }

}  // namespace

void bind_mla(nb::module_& m) {
  m.def("mla_buffer_sizes",
        [](int batch, int num_heads_q, int seq_q, int page_size, const std::string& kv_dtype,
           const std::string& load_path, Runtime* rt) {
          const runtime::MlaConfig c = make_config(num_heads_q, seq_q, page_size, kv_dtype, load_path);
          if (batch < 0) fail(Errc::invalid_argument, "batch must be >= 0, got " + std::to_string(batch));
          const int sms = target_sms(pick(rt));
          const int parts = runtime::mla_num_sm_parts(c, sms);
          nb::dict d;
          d["num_parts"] = parts;
          d["metadata_bytes"] = runtime::mla_metadata_bytes(batch, parts);
          d["split_begin_offset"] = parts * sizeof(runtime::MlaSchedulePart);
          d["workspace_bytes"] = runtime::mla_workspace_bytes(c, batch, sms);
          return d;
        },
        nb::arg("batch"), nb::arg("num_heads_q"), nb::arg("seq_q"), nb::arg("page_size"), nb::arg("kv_dtype"),
        nb::arg("load_path"), nb::arg("runtime").none(),
        "Bytes of the metadata and workspace buffers for a batch on the current device (the runtime's SM limit "
        "applied), the number of SM parts and where split_begin starts in the metadata.");

  m.def("mla_decode_metadata",
        [](const Array& cache_seqlens, const Array& metadata, int num_heads_q, int seq_q, int page_size,
           const std::string& kv_dtype, const std::string& load_path, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          const runtime::MlaConfig c = make_config(num_heads_q, seq_q, page_size, kv_dtype, load_path);
          const CUdeviceptr lens = t.ptr(cache_seqlens, "cache_seqlens", Elem::i32, 1);
          check_contiguous(cache_seqlens, "cache_seqlens");
          const int batch = int(cache_seqlens.shape(0));
          Runtime& r = pick(rt);
          const std::size_t bytes = runtime::mla_metadata_bytes(batch, runtime::mla_num_sm_parts(c, target_sms(r)));
          const CUdeviceptr meta = t.buffer(metadata, "metadata", bytes);
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::mla_decode_metadata(c, batch, lens, meta, metadata.nbytes(), as_stream(stream), r);
        },
        nb::arg("cache_seqlens"), nb::arg("metadata"), nb::arg("num_heads_q"), nb::arg("seq_q"), nb::arg("page_size"),
        nb::arg("kv_dtype"), nb::arg("load_path"), nb::arg("stream"), nb::arg("runtime").none());

  m.def("mla_decode",
        [](const Array& q, const Array& k_cache, const Array& block_table, const Array& cache_seqlens,
           const Array& out, const Array& lse, const Array& metadata, const Array& workspace, float softmax_scale,
           const std::string& load_path, std::uintptr_t stream, Runtime* rt) {
          Tensors t;
          runtime::MlaDecodeArgs a;
          a.q = t.ptr(q, "q", Elem::bf16, 4);
          check_contiguous(q, "q");
          a.batch = int(q.shape(0));
          const int seq_q = int(q.shape(1)), heads = int(q.shape(2));
          check_dims(q, "q", {a.batch, seq_q, heads, runtime::kMlaHeadDim});
          // k_cache [num_blocks, page_size, 1, row]: BF16 rows of 576, or FP8 rows of 656 bytes.
          if (k_cache.ndim() != 4)
            fail(Errc::invalid_argument, "k_cache: needs 4 dimensions [num_blocks, page_size, 1, row], got " +
                                             shape_text(k_cache));
          const bool fp8 = k_cache.dtype().bits == 8;
          a.k_cache = t.ptr(k_cache, "k_cache", fp8 ? Elem::e4m3 : Elem::bf16, 4);
          check_contiguous(k_cache, "k_cache");
          const int row = fp8 ? runtime::mla_kv_row_bytes(runtime::MlaKvDtype::fp8_e4m3) : runtime::kMlaHeadDim;
          check_dims(k_cache, "k_cache", {-1, -1, 1, row});
          a.num_blocks = int(k_cache.shape(0));
          const runtime::MlaConfig c =
              make_config(heads, seq_q, int(k_cache.shape(1)), fp8 ? "fp8" : "bf16", load_path);
          a.block_table = t.ptr(block_table, "block_table", Elem::i32, 2);
          check_contiguous(block_table, "block_table");
          check_dims(block_table, "block_table", {a.batch, -1});
          a.max_blocks_per_seq = int(block_table.shape(1));
          a.cache_seqlens = t.ptr(cache_seqlens, "cache_seqlens", Elem::i32, 1);
          check_dims(cache_seqlens, "cache_seqlens", {a.batch});
          a.out = t.ptr(out, "out", Elem::bf16, 4);
          check_contiguous(out, "out");
          check_dims(out, "out", {a.batch, seq_q, heads, runtime::kMlaValueDim});
          a.lse = t.ptr(lse, "lse", Elem::f32, 3);
          check_contiguous(lse, "lse");
          check_dims(lse, "lse", {a.batch, heads, seq_q});
          a.metadata = t.buffer(metadata, "tile_scheduler_metadata", 0);
          a.metadata_bytes = metadata.nbytes();
          a.workspace = t.buffer(workspace, "workspace", 0);
          a.workspace_bytes = workspace.nbytes();
          a.softmax_scale = softmax_scale;
          Runtime& r = pick(rt);
          runtime::validate(c, a, target_sms(r));
          t.on_current_device();
          nb::gil_scoped_release unlocked;
          runtime::mla_decode(c, a, as_stream(stream), r);
        },
        nb::arg("q"), nb::arg("k_cache"), nb::arg("block_table"), nb::arg("cache_seqlens"), nb::arg("out"),
        nb::arg("lse"), nb::arg("metadata"), nb::arg("workspace"), nb::arg("softmax_scale"), nb::arg("load_path"),
        nb::arg("stream"), nb::arg("runtime").none());
}

}  // namespace shapejit::python
