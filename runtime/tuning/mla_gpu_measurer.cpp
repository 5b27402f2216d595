// The GPU measuring family for MLA decode candidates (mla_decode).
// check(): one call on fresh random inputs - a paged KV cache behind a randomly permuted block
// table, random cache lengths with a zero-length request and one shorter than s_q, pages no
// request uses left NaN, out / lse / workspace poisoned with NaN - against the CPU reference
// (mla_decode_reference) within the MLA GPU tests' tolerance: mla_out_tolerance per output
// element (one BF16 rounding of the output plus the P rounding and FP32 accumulation bounds,
// derived in tests/mla/mla_gpu_test.cpp), lse within 1e-5 relative, +inf exactly.
// measure(): scheduler then decode, as a call with the candidate as its winning record runs
// them (ForcedMlaPlan), on the fixed workload of mla_tuning.hpp (kMlaTimedBatch requests of
// kMlaTimedSeqlen tokens), timed by the shared GpuTimer (warm-up, L2 flushed, median and
// spread, a CUDA graph of the pair with --cuda-graph). The session turns the time into GB/s of
// KV cache bytes (Candidate::bytes).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "gpu_measurers.hpp"
#include "mla_tuning.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {
namespace {

// The reference check's problem: small enough for a host reference in about a second, long
// enough (8..24 KV tiles per request) that a schedule with more parts than requests splits
// them, so the combine kernel's merge is checked too.
constexpr int kCheckBatch = 6;
constexpr int kCheckMaxLen = 1500;

struct MlaCandidate {
  MlaConfig config;
  int num_sms = 0;
};

// The config and SM count a candidate names (runtime/tuning/mla_space.cpp writes them).
MlaCandidate parse(const Candidate& c) {
  MlaCandidate out;
  out.config = detail::mla_shape_config(c.shape_json);
  const nlohmann::json cfg = nlohmann::json::parse(c.config_json);
  out.config.load_path = cfg.at("load_path") == "tma" ? MlaLoadPath::tma : MlaLoadPath::cp_async;
  out.num_sms = cfg.at("NUM_SMS").get<int>();
  return out;
}

// A paged cache with its block table and lengths, q, and the call's outputs, on the device.
struct Problem {
  MlaConfig config;
  int batch = 0, max_blocks = 0, num_blocks = 0;
  std::vector<std::int32_t> lens, table;
  std::vector<std::uint16_t> q;
  std::vector<std::uint8_t> cache;
  DeviceBuffer d_q, d_cache, d_table, d_lens, d_out, d_lse, d_meta, d_ws;
  MlaDecodeArgs args;
};

// Random KV rows: BF16 in [-1, 1), or E4M3 values with per-128 scales and BF16 RoPE dims.
void fill_row(std::uint8_t* row, MlaKvDtype dtype, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  if (dtype == MlaKvDtype::bf16) {
    for (int d = 0; d < kMlaHeadDim; ++d) {
      const std::uint16_t v = float_to_bf16(uni(rng));
      std::memcpy(row + 2 * d, &v, 2);
    }
    return;
  }
  float scales[4];
  for (float& s : scales) s = 0.002f + 0.004f * (uni(rng) + 1.0f);
  for (int d = 0; d < kMlaValueDim; ++d) row[d] = float_to_e4m3(uni(rng) * 448.0f);
  std::memcpy(row + kMlaValueDim, scales, sizeof scales);
  for (int d = 0; d < kMlaHeadDim - kMlaValueDim; ++d) {
    const std::uint16_t v = float_to_bf16(uni(rng));
    std::memcpy(row + kMlaValueDim + sizeof scales + 2 * d, &v, 2);
  }
}

// `lens` requests over pages in a random order; pages no request uses stay NaN (0xFF), so a
// kernel that reads one shows it. Buffers are sized for `num_sms` SMs (the device's: enough for
// any candidate's schedule). for_reference: every row drawn afresh and the host copies kept;
// else (the timed workload, hundreds of MB) rows are copies of a pool of random rows, which
// costs the timing nothing and the host seconds less per shape.
std::unique_ptr<Problem> make_problem(const MlaConfig& c, std::vector<std::int32_t> lens, int num_sms,
                                      std::mt19937_64& rng, bool for_reference) {
  auto p = std::make_unique<Problem>();
  p->config = c;
  p->batch = static_cast<int>(lens.size());
  p->lens = std::move(lens);
  int used = 0;
  for (int len : p->lens) {
    const int pages = (len + c.page_size - 1) / c.page_size;
    p->max_blocks = std::max(p->max_blocks, pages);
    used += pages;
  }
  p->max_blocks = std::max(p->max_blocks, 1);
  p->num_blocks = used + 2;
  std::vector<int> perm(p->num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  // Entries past a request's pages hold a huge index: the kernels must never read them.
  p->table.assign(static_cast<std::size_t>(p->batch) * p->max_blocks, 1 << 30);
  int next = 0;
  for (int b = 0; b < p->batch; ++b)
    for (int j = 0; j < (p->lens[b] + c.page_size - 1) / c.page_size; ++j)
      p->table[static_cast<std::size_t>(b) * p->max_blocks + j] = perm[next++];
  const std::size_t row_bytes = static_cast<std::size_t>(mla_kv_row_bytes(c.kv_dtype));
  p->cache.assign(static_cast<std::size_t>(p->num_blocks) * c.page_size * row_bytes, 0xff);
  constexpr int kPoolRows = 1024;
  std::vector<std::uint8_t> pool;
  if (!for_reference) {
    pool.resize(kPoolRows * row_bytes);
    for (int i = 0; i < kPoolRows; ++i) fill_row(pool.data() + i * row_bytes, c.kv_dtype, rng);
  }
  std::uniform_int_distribution<int> pick(0, kPoolRows - 1);
  for (int b = 0; b < p->batch; ++b)
    for (int t = 0; t < p->lens[b]; ++t) {
      const int page = p->table[static_cast<std::size_t>(b) * p->max_blocks + t / c.page_size];
      std::uint8_t* row = p->cache.data() + (static_cast<std::size_t>(page) * c.page_size + t % c.page_size) * row_bytes;
      if (for_reference)
        fill_row(row, c.kv_dtype, rng);
      else
        std::memcpy(row, pool.data() + static_cast<std::size_t>(pick(rng)) * row_bytes, row_bytes);
    }
  const std::size_t rows = static_cast<std::size_t>(p->batch) * c.seq_q * c.num_heads_q;
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  p->q.resize(rows * kMlaHeadDim);
  for (auto& v : p->q) v = float_to_bf16(uni(rng));

  p->d_q = DeviceBuffer(p->q.size() * 2);
  p->d_cache = DeviceBuffer(p->cache.size());
  p->d_table = DeviceBuffer(p->table.size() * 4);
  p->d_lens = DeviceBuffer(p->lens.size() * 4);
  p->d_out = DeviceBuffer(rows * kMlaValueDim * 2);
  p->d_lse = DeviceBuffer(rows * 4);
  p->d_meta = DeviceBuffer(mla_metadata_bytes(p->batch, mla_num_sm_parts(c, num_sms)));
  p->d_ws = DeviceBuffer(mla_workspace_bytes(c, p->batch, num_sms));
  p->d_q.upload(p->q);
  p->d_cache.upload(p->cache);
  p->d_table.upload(p->table);
  p->d_lens.upload(p->lens);
  MlaDecodeArgs& a = p->args;
  a.batch = p->batch;
  a.num_blocks = p->num_blocks;
  a.max_blocks_per_seq = p->max_blocks;
  a.q = p->d_q.ptr();
  a.k_cache = p->d_cache.ptr();
  a.block_table = p->d_table.ptr();
  a.cache_seqlens = p->d_lens.ptr();
  a.out = p->d_out.ptr();
  a.lse = p->d_lse.ptr();
  a.metadata = p->d_meta.ptr();
  a.metadata_bytes = p->d_meta.bytes();
  a.workspace = p->d_ws.ptr();
  a.workspace_bytes = p->d_ws.bytes();
  if (!for_reference) {
    p->cache = {};
    p->q = {};
  }
  return p;
}

// Scheduler then decode, as a call does.
void run(const Problem& p, CUstream stream, Runtime& runtime) {
  mla_decode_metadata(p.config, p.batch, p.args.cache_seqlens, p.args.metadata, p.args.metadata_bytes, stream,
                      runtime);
  mla_decode(p.config, p.args, stream, runtime);
}

// The first element outside the tolerance, or empty.
std::string compare(const Problem& p) {
  const MlaConfig& c = p.config;
  const int rows = c.num_heads_q * c.seq_q;
  const std::size_t out_elems = static_cast<std::size_t>(p.batch) * rows * kMlaValueDim;
  std::vector<float> out(out_elems), abs_out(out_elems), lse(static_cast<std::size_t>(p.batch) * rows),
      max_logit(lse.size());
  std::vector<std::future<void>> jobs;   // one request per thread
  for (int b = 0; b < p.batch; ++b)
    jobs.push_back(std::async(std::launch::async, [&, b] {
      const std::size_t o = static_cast<std::size_t>(b) * rows;
      mla_decode_reference(c, 1, p.max_blocks, 0.0f,
                           std::span(p.q).subspan(o * kMlaHeadDim, static_cast<std::size_t>(rows) * kMlaHeadDim),
                           p.cache, std::span(p.table).subspan(static_cast<std::size_t>(b) * p.max_blocks, p.max_blocks),
                           std::span(p.lens).subspan(b, 1),
                           std::span(out).subspan(o * kMlaValueDim, static_cast<std::size_t>(rows) * kMlaValueDim),
                           std::span(lse).subspan(o, rows),
                           std::span(abs_out).subspan(o * kMlaValueDim, static_cast<std::size_t>(rows) * kMlaValueDim),
                           std::span(max_logit).subspan(o, rows));
    }));
  for (auto& j : jobs) j.get();
  const auto gpu_out = p.d_out.download<std::uint16_t>(out_elems);
  const auto gpu_lse = p.d_lse.download<float>(lse.size());
  char buf[240];
  for (std::size_t i = 0; i < out_elems; ++i) {
    const std::size_t b = i / (static_cast<std::size_t>(rows) * kMlaValueDim);
    const int row = static_cast<int>((i / kMlaValueDim) % rows), qi = row / c.num_heads_q, h = row % c.num_heads_q;
    const int len = p.lens[b];
    const int visible = std::min(len, std::max(0, len - c.seq_q + 1 + qi));
    const double g = bf16_to_float(gpu_out[i]), r = out[i];
    const double tol =
        mla_out_tolerance(r, abs_out[i], max_logit[(b * c.num_heads_q + h) * c.seq_q + qi], visible);
    if (!(std::fabs(g - r) <= tol)) {
      std::snprintf(buf, sizeof buf, "out of request %zu, row %d, dim %zu is %.6g, reference %.6g (tolerance %.3g)",
                    b, row, i % kMlaValueDim, g, r, tol);
      return buf;
    }
  }
  for (std::size_t i = 0; i < lse.size(); ++i) {
    const float g = gpu_lse[i], r = lse[i];
    const bool ok = std::isinf(r) ? g == r : std::fabs(g - r) <= 1e-5f * std::max(1.0f, std::fabs(r));
    if (!ok) {
      std::snprintf(buf, sizeof buf, "lse of request %zu is %.8g, reference %.8g (tolerance 1e-5 relative)",
                    i / rows, static_cast<double>(g), static_cast<double>(r));
      return buf;
    }
  }
  return {};
}

class MlaGpuMeasurer final : public detail::FamilyMeasurer {
 public:
  MlaGpuMeasurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer)
      : FamilyMeasurer("MLA", runtime, options, timer) {}

  std::string check(const Candidate& c) override {
    const MlaCandidate cand = parse(c);
    // Fresh lengths every check: one zero-length request, one shorter than s_q, the rest long
    // enough to be split.
    std::uniform_int_distribution<int> len(kCheckMaxLen / 3, kCheckMaxLen);
    std::vector<std::int32_t> lens(kCheckBatch);
    for (auto& l : lens) l = len(rng_);
    lens[1] = 0;
    lens[2] = std::min(lens[2], 1);
    const int sms = target_sms();
    std::unique_ptr<Problem> p = make_problem(cand.config, std::move(lens), sms, rng_, true);
    p->d_out.fill_bytes(0xff);
    p->d_lse.fill_bytes(0xff);
    p->d_ws.fill_bytes(0xff);
    p->d_meta.fill_bytes(0xff);
    try {
      const ForcedMlaPlan forced(cand.config.load_path, cand.num_sms);
      run(*p, nullptr, runtime_);
      SHAPEJIT_CU(driver().cuCtxSynchronize());
    } catch (const Error& e) {
      return std::string("launch failed: ") + e.what();
    }
    return compare(*p);
  }

 private:
  int target_sms() const { return runtime_.target(current_device()).num_sms; }

  // The timed workload of the candidate's shape (one shape's at a time: it is large).
  TimedLaunch prepare(const Candidate& c) override {
    const MlaCandidate cand = parse(c);
    if (workload_key_ != c.shape_json) {
      workload_.reset();
      workload_ = make_problem(cand.config, std::vector<std::int32_t>(detail::kMlaTimedBatch, detail::kMlaTimedSeqlen), target_sms(),
                               rng_, false);
      workload_key_ = c.shape_json;
    }
    const Problem* p = workload_.get();
    Runtime* rt = &runtime_;
    return timer_.prepare(
        [p, rt, path = cand.config.load_path, sms = cand.num_sms](CUstream s) {
          const ForcedMlaPlan forced(path, sms);
          run(*p, s, *rt);
        },
        options_.cuda_graph);
  }

  std::string workload_key_;
  std::unique_ptr<Problem> workload_;
};

}  // namespace

std::unique_ptr<Measurer> detail::make_mla_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options,
                                                        GpuTimer& timer) {
  return std::make_unique<MlaGpuMeasurer>(runtime, options, timer);
}

}  // namespace shapejit::runtime::tuning
