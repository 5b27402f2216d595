// MLA decode front end: config and argument validation, kernel specs, tensor maps, launches.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "mla/decode_params.cuh"
#include "mla/decode_schedule.cuh"
#include "mla/decode_split_layout.cuh"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/checks.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tensor_map.hpp"

namespace shapejit::runtime {
namespace {

constexpr std::uint64_t kRowBytes = kMlaHeadDim * 2;   // one BF16 row of q or of the cache

// Tensor maps of the TMA load path (MlaLoadPath::tma).
// q [batch][h_q·s_q][576] BF16 as a 3-D map; a box is 64 columns (128 bytes, swizzled) by up to
// 64 rows of one request, so rows past the request's h_q·s_q are zero-filled, not the next one's.
TensorMapSpec query_map(const MlaConfig& c, const MlaDecodeArgs& a) {
  const int rows = c.num_heads_q * c.seq_q;
  TensorMapSpec s = tensor_map_2d("q", CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, a.q, kMlaHeadDim,
                                  static_cast<std::uint64_t>(rows), kRowBytes, 64,
                                  static_cast<std::uint32_t>(std::min(rows, kMlaBlockM)), 128);
  s.rank = 3;
  s.dims[2] = static_cast<std::uint64_t>(a.batch);
  s.strides[1] = kRowBytes * static_cast<std::uint64_t>(rows);
  return s;
}

// The BF16 cache as [num_blocks·page_size][576]: a box is 64 columns by min(page_size, 32)
// tokens, so it never crosses a page.
TensorMapSpec cache_map(const MlaConfig& c, const MlaDecodeArgs& a) {
  return tensor_map_2d(
      "k_cache", CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, a.k_cache, kMlaHeadDim,
      static_cast<std::uint64_t>(a.num_blocks) * static_cast<std::uint64_t>(c.page_size), kRowBytes,
      64, static_cast<std::uint32_t>(std::min<int>(c.page_size, mla_plan::kSplitBlockN)), 128);
}

[[noreturn]] void bad(const std::string& what) {
  fail(Errc::invalid_argument, "mla_decode: " + what);
}

void check_ptr(const char* name, CUdeviceptr p, unsigned align) {
  require_device_pointer("mla_decode", name, p, align);
}

const DeviceInfo& hopper_device() {
  const DeviceInfo& dev = current_device();
  if (dev.cc_major != 9 || dev.cc_minor != 0)
    fail(Errc::unsupported, "mla_decode: needs an sm_90 (Hopper) GPU; this device (" + dev.name +
                                ") is sm_" + std::to_string(dev.cc_major) +
                                std::to_string(dev.cc_minor));
  return dev;
}

// The config and device a call's kernels run with: the runtime's SM limit, then its winners.
std::pair<MlaConfig, DeviceInfo> planned(const MlaConfig& asked, Runtime& runtime) {
  DeviceInfo dev = runtime.target(hopper_device());
  const MlaLaunchPlan plan = mla_launch_plan(asked, dev, runtime.tuned_configs());
  dev.num_sms = plan.num_sms;
  return {plan.config, dev};
}

jit::KernelSpec spec_of(std::string_view kernel, const jit::NamedValues& values,
                        const DeviceInfo& t) {
  return jit::find_kernel_definition("mla", kernel).spec(values, t.arch.empty() ? "sm_90a" : t.arch);
}

jit::KernelSpec schedule_spec(const MlaConfig& c, const DeviceInfo& t) {
  return spec_of("mla_decode_metadata", {{"NUM_SM_PARTS", mla_num_sm_parts(c, t.num_sms)}}, t);
}
jit::KernelSpec split_spec(const MlaConfig& c, const DeviceInfo& t) {
  return spec_of(c.load_path == MlaLoadPath::tma ? "mla_decode_split_tma" : "mla_decode_split",
                 {{"H_Q", c.num_heads_q},
                  {"S_Q", c.seq_q},
                  {"PAGE_SIZE", c.page_size},
                  {"KV_FP8", c.kv_dtype == MlaKvDtype::fp8_e4m3},
                  {"NUM_SMS", t.num_sms}},
                 t);
}
jit::KernelSpec combine_spec(const MlaConfig& c, const DeviceInfo& t) {
  return spec_of("mla_decode_combine",
                 {{"H_Q", c.num_heads_q},
                  {"S_Q", c.seq_q},
                  {"NUM_SM_PARTS", mla_num_sm_parts(c, t.num_sms)}},
                 t);
}

}  // namespace

void validate(const MlaConfig& c) {
  const int h = c.num_heads_q;
  if (h != 16 && h != 32 && h != 64 && h != 128)
    bad("num_heads_q = " + std::to_string(h) + " must be 16, 32, 64 or 128");
  if (c.seq_q < 1 || c.seq_q > 8) bad("seq_q = " + std::to_string(c.seq_q) + " must be in 1..8");
  const int p = c.page_size;
  if (p != 16 && p != 32 && p != 64 && p != 128)
    bad("page_size = " + std::to_string(p) + " must be 16, 32, 64 or 128");
  if (c.kv_dtype != MlaKvDtype::bf16 && c.kv_dtype != MlaKvDtype::fp8_e4m3)
    bad("kv_dtype must be bf16 or fp8_e4m3");
  if (c.load_path != MlaLoadPath::cp_async && c.load_path != MlaLoadPath::tma)
    bad("load_path must be cp_async or tma");
}

MlaSplitLaunch mla_split_launch(const MlaConfig& c) {
  validate(c);
  return {mla_plan::kSplitThreads,
          mla_plan::split_smem_bytes(c.load_path == MlaLoadPath::tma,
                                     c.kv_dtype == MlaKvDtype::fp8_e4m3)};
}

int mla_kv_row_bytes(MlaKvDtype dtype) { return dtype == MlaKvDtype::bf16 ? 1152 : 656; }

int mla_num_m_tiles(const MlaConfig& c) {
  return (c.num_heads_q * c.seq_q + kMlaBlockM - 1) / kMlaBlockM;
}

int mla_num_sm_parts(const MlaConfig& c, int num_sms) {
  if (num_sms < 1) bad("num_sms = " + std::to_string(num_sms) + " must be at least 1");
  return std::max(1, num_sms / mla_num_m_tiles(c));
}

std::size_t mla_metadata_bytes(int batch, int num_parts) {
  return static_cast<std::size_t>(num_parts) * sizeof(MlaSchedulePart) +
         static_cast<std::size_t>(batch + 1) * 4;
}

std::size_t mla_workspace_bytes(const MlaConfig& c, int batch, int num_sms) {
  validate(c);
  const std::size_t splits = static_cast<std::size_t>(batch) + mla_num_sm_parts(c, num_sms);
  const std::size_t rows = static_cast<std::size_t>(c.num_heads_q) * c.seq_q;
  return splits * rows * (kMlaValueDim + 1) * sizeof(float);
}

std::string mla_tuning_shape(const MlaConfig& c) {
  validate(c);
  return nlohmann::json{{"op", "mla_decode"},
                        {"h_q", c.num_heads_q},
                        {"s_q", c.seq_q},
                        {"page_size", c.page_size},
                        {"kv_dtype", c.kv_dtype == MlaKvDtype::bf16 ? "bf16" : "fp8_e4m3"}}
      .dump();
}

namespace {
thread_local const ForcedMlaPlan* forced_plan = nullptr;
}  // namespace

ForcedMlaPlan::ForcedMlaPlan(MlaLoadPath load_path, int num_sms)
    : previous_(forced_plan), load_path_(load_path), num_sms_(num_sms) {
  if (load_path != MlaLoadPath::cp_async && load_path != MlaLoadPath::tma) bad("load_path must be cp_async or tma");
  if (num_sms < 1) bad("forced num_sms = " + std::to_string(num_sms) + " must be at least 1");
  forced_plan = this;
}
ForcedMlaPlan::~ForcedMlaPlan() { forced_plan = previous_; }
const ForcedMlaPlan* ForcedMlaPlan::current() { return forced_plan; }

MlaLaunchPlan mla_launch_plan(const MlaConfig& c, const DeviceInfo& target, const TunedConfigs* tuned) {
  validate(c);
  MlaLaunchPlan plan{c, target.num_sms, false, false};
  if (const ForcedMlaPlan* f = ForcedMlaPlan::current()) {
    if (f->num_sms() > target.num_sms)
      bad("forced num_sms = " + std::to_string(f->num_sms()) + " exceeds the " + std::to_string(target.num_sms) +
          " SMs of the call");
    plan.config.load_path = f->load_path();
    plan.num_sms = f->num_sms();
    plan.forced = true;
    return plan;
  }
  if (!tuned || c.load_path != MlaLoadPath::cp_async || !tuned->has("mla_decode")) return plan;
  const std::optional<cache::TuningRecord> r = tuned->find("mla_decode", mla_tuning_shape(c), target);
  if (!r) return plan;
  // The search space writes {"load_path": "cp_async"|"tma", "NUM_SMS": n} (runtime/tuning/mla_space.cpp).
  const nlohmann::json cfg = nlohmann::json::parse(r->config_json, nullptr, false);
  if (!cfg.is_object() || !cfg.contains("load_path") || !cfg.contains("NUM_SMS")) return plan;
  const nlohmann::json &path = cfg["load_path"], &sms = cfg["NUM_SMS"];
  if (!path.is_string() || (path != "cp_async" && path != "tma") || !sms.is_number_integer()) return plan;
  const long long n = sms.get<long long>();
  if (n < 1 || n > target.num_sms) return plan;
  plan.config.load_path = path == "tma" ? MlaLoadPath::tma : MlaLoadPath::cp_async;
  plan.num_sms = static_cast<int>(n);
  plan.tuned = true;
  return plan;
}

std::vector<jit::KernelSpec> mla_kernel_specs(const MlaConfig& asked, const DeviceInfo& target,
                                              const TunedConfigs* tuned) {
  validate(asked);
  if (target.num_sms < 1) bad("target device has no SM count");
  const MlaLaunchPlan plan = mla_launch_plan(asked, target, tuned);
  DeviceInfo t = target;
  t.num_sms = plan.num_sms;
  const MlaConfig& c = plan.config;
  return {schedule_spec(c, t), split_spec(c, t), combine_spec(c, t)};
}

void validate(const MlaConfig& c, const MlaDecodeArgs& a, int num_sms) {
  validate(c);
  if (a.batch < 1) bad("batch = " + std::to_string(a.batch) + " must be at least 1");
  if (a.num_blocks < 1) bad("num_blocks = " + std::to_string(a.num_blocks) + " must be at least 1");
  if (a.max_blocks_per_seq < 1)
    bad("max_blocks_per_seq = " + std::to_string(a.max_blocks_per_seq) + " must be at least 1");
  if (static_cast<long long>(a.num_blocks) * c.page_size >= (1ll << 31))
    bad("num_blocks · page_size = " +
        std::to_string(static_cast<long long>(a.num_blocks) * c.page_size) +
        " cache rows exceed the 2^31 − 1 rows a tensor-map coordinate can address");
  if (static_cast<long long>(a.max_blocks_per_seq) * c.page_size >= (1ll << 31))
    bad("max_blocks_per_seq · page_size exceeds the int32 range of cache_seqlens");
  if (static_cast<long long>(a.batch) * c.seq_q * c.num_heads_q >= (1ll << 31))
    bad("batch · s_q · h_q query rows exceed 2^31 − 1");
  if (!(a.softmax_scale >= 0.0f) || !std::isfinite(a.softmax_scale))
    bad("softmax_scale must be finite and ≥ 0 (0 selects 1/sqrt(576))");
  check_ptr("q", a.q, 16);
  check_ptr("k_cache", a.k_cache, 16);
  check_ptr("block_table", a.block_table, 4);
  check_ptr("cache_seqlens", a.cache_seqlens, 4);
  check_ptr("out", a.out, 16);
  check_ptr("lse", a.lse, 4);
  check_ptr("metadata", a.metadata, 16);
  check_ptr("workspace", a.workspace, 16);
  const std::size_t need_meta = mla_metadata_bytes(a.batch, mla_num_sm_parts(c, num_sms));
  if (a.metadata_bytes < need_meta)
    bad("metadata_bytes = " + std::to_string(a.metadata_bytes) + " is smaller than the " +
        std::to_string(need_meta) + " bytes mla_metadata_bytes() gives for this batch");
  const std::size_t need_ws = mla_workspace_bytes(c, a.batch, num_sms);
  if (a.workspace_bytes < need_ws)
    bad("workspace_bytes = " + std::to_string(a.workspace_bytes) + " is smaller than the " +
        std::to_string(need_ws) + " bytes mla_workspace_bytes() gives for this batch");
}

void validate_block_table(const MlaConfig& c, int batch, int max_blocks_per_seq, int num_blocks,
                          std::span<const std::int32_t> block_table,
                          std::span<const std::int32_t> cache_seqlens) {
  validate(c);
  if (batch < 1 || max_blocks_per_seq < 1 || num_blocks < 1)
    bad("batch, max_blocks_per_seq and num_blocks must be at least 1");
  if (cache_seqlens.size() < static_cast<std::size_t>(batch))
    bad("cache_seqlens has " + std::to_string(cache_seqlens.size()) + " entries for batch " +
        std::to_string(batch));
  if (block_table.size() < static_cast<std::size_t>(batch) * max_blocks_per_seq)
    bad("block_table has " + std::to_string(block_table.size()) + " entries, fewer than batch · " +
        "max_blocks_per_seq = " + std::to_string(static_cast<long long>(batch) * max_blocks_per_seq));
  for (int b = 0; b < batch; ++b) {
    const long long len = cache_seqlens[b];
    if (len < 0 || len > static_cast<long long>(max_blocks_per_seq) * c.page_size)
      bad("cache_seqlens[" + std::to_string(b) + "] = " + std::to_string(len) +
          " is outside [0, max_blocks_per_seq · page_size = " +
          std::to_string(static_cast<long long>(max_blocks_per_seq) * c.page_size) + "]");
    const long long pages = (len + c.page_size - 1) / c.page_size;
    for (long long j = 0; j < pages; ++j) {
      const int page = block_table[static_cast<std::size_t>(b) * max_blocks_per_seq + j];
      if (page < 0 || page >= num_blocks)
        bad("block_table[" + std::to_string(b) + "][" + std::to_string(j) + "] = " +
            std::to_string(page) + " is outside [0, num_blocks = " + std::to_string(num_blocks) +
            ") and request " + std::to_string(b) + " (length " + std::to_string(len) +
            ") uses it");
    }
  }
}

void mla_decode_metadata(const MlaConfig& asked, int batch, CUdeviceptr cache_seqlens,
                         CUdeviceptr metadata, std::size_t metadata_bytes, CUstream stream,
                         Runtime& runtime) {
  validate(asked);
  if (batch < 1) bad("batch = " + std::to_string(batch) + " must be at least 1");
  check_ptr("cache_seqlens", cache_seqlens, 4);
  check_ptr("metadata", metadata, 16);
  // The same plan mla_decode runs: its partitions are the ones this schedule fills.
  const auto [c, dev] = planned(asked, runtime);
  const int parts = mla_num_sm_parts(c, dev.num_sms);
  if (metadata_bytes < mla_metadata_bytes(batch, parts))
    bad("metadata_bytes = " + std::to_string(metadata_bytes) + " is smaller than the " +
        std::to_string(mla_metadata_bytes(batch, parts)) + " bytes this batch needs");
  const LoadedKernel& kernel = runtime.load(schedule_spec(c, dev));
  const int* seqlens = reinterpret_cast<const int*>(cache_seqlens);
  int* meta = reinterpret_cast<int*>(metadata);
  int b = batch;
  void* args[] = {&seqlens, &b, &meta};
  LaunchParams lp;
  lp.block[0] = 32;
  lp.stream = stream;
  launch(kernel, lp, args);
}

void mla_decode(const MlaConfig& asked, const MlaDecodeArgs& a, CUstream stream, Runtime& runtime) {
  validate(asked);
  const auto [c, dev] = planned(asked, runtime);
  validate(c, a, dev.num_sms);
  const int parts = mla_num_sm_parts(c, dev.num_sms);

  const std::size_t rows = static_cast<std::size_t>(c.num_heads_q) * c.seq_q;
  const std::size_t splits = static_cast<std::size_t>(mla_plan::max_total_splits(parts, a.batch));
  mla_plan::DecodeParams p{};
  p.q = reinterpret_cast<const void*>(a.q);
  p.k_cache = reinterpret_cast<const void*>(a.k_cache);
  p.block_table = reinterpret_cast<const int*>(a.block_table);
  p.cache_seqlens = reinterpret_cast<const int*>(a.cache_seqlens);
  p.meta = reinterpret_cast<const int*>(a.metadata);
  p.out = reinterpret_cast<void*>(a.out);
  p.lse = reinterpret_cast<float*>(a.lse);
  p.o_accum = reinterpret_cast<float*>(a.workspace);
  p.lse_accum = p.o_accum + splits * rows * kMlaValueDim;
  p.batch = a.batch;
  p.max_blocks_per_seq = a.max_blocks_per_seq;
  p.num_blocks = a.num_blocks;
  const float scale = a.softmax_scale > 0.0f ? a.softmax_scale : 1.0f / std::sqrt(576.0f);
  p.scale_log2 = scale * 1.4426950408889634f;

  const LoadedKernel& split = runtime.load(split_spec(c, dev));
  const LoadedKernel& combine = runtime.load(combine_spec(c, dev));
  void* args[] = {&p};
  // The TMA kernel takes tensor maps of q and of a BF16 cache before the parameters.
  // NOTES: the FP8 cache is read with plain bulk copies (656-byte rows are wider than a TMA
  // box), so its kernel never touches the second map.
  CUtensorMap tmap_q{}, tmap_kv{};
  void* tma_args[] = {&tmap_q, &tmap_kv, &p};
  if (c.load_path == MlaLoadPath::tma) {
    tmap_q = make_tensor_map(query_map(c, a));
    if (c.kv_dtype == MlaKvDtype::bf16) tmap_kv = make_tensor_map(cache_map(c, a));
  }
  LaunchParams lp;
  lp.grid[0] = static_cast<unsigned>(mla_num_m_tiles(c));
  lp.grid[1] = static_cast<unsigned>(parts);
  const MlaSplitLaunch shape = mla_split_launch(c);
  lp.block[0] = static_cast<unsigned>(shape.threads);
  // The layout's bytes are the floor; the launch keeps asking for the whole opt-in, the
  // configuration the split kernels passed their GPU tests with.
  lp.dynamic_smem_bytes =
      static_cast<unsigned>(std::max(shape.dynamic_smem_bytes, dev.max_smem_per_block_optin));
  lp.stream = stream;
  launch(split, lp, c.load_path == MlaLoadPath::tma ? tma_args : args);

  // NOTES: always launched: it also writes the zero-length requests (no split).
  LaunchParams lc;
  lc.grid[0] = static_cast<unsigned>(a.batch);
  lc.grid[1] = static_cast<unsigned>((rows + 3) / 4);
  lc.block[0] = 128;
  lc.stream = stream;
  launch(combine, lc, args);
}

}  // namespace shapejit::runtime
