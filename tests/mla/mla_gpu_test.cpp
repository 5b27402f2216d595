// MLA decode on the GPU against the FP32 CPU reference, per request over the gathered pages.
// Unused cache slots hold NaN, the block table is a random permutation of the pages (unused
// entries a huge index), lengths vary and include zero and lengths below s_q, outputs are
// poisoned with NaN before the call.
//
// Tolerance of out, per element (request, query row, value column d); mla_out_tolerance
// (runtime/mla/mla_tolerance.cpp, also used by the tuner's reference check).
// n is the row's number of visible keys, w_j the reference's softmax weights, and the
// reference also returns A = Σ_j w_j·|v_jd| (abs_out: the weighted mean of |V| in the column,
// ≥ |ref|, usually far below max|V|) and R = softmax_scale · max_j Σ_d |q_d·k_jd|
// (max_abs_logit):
//
//   |gpu − ref| ≤ 2^-8·|ref| + (1 + 2^-8)·((1 + 2^-8)·e^(2η)·(1 + c) − 1)·A + 2^-100
//   η = (20·R + n/64 + log2 n + 2)·2^-20        c = 3n·2^-26 + 2^-19
//
// With η = c = 0 this is 2^-8·|ref| + (2^-8 + 2^-16)·A: one BF16 rounding of the output plus P
// rounded to BF16 before the PV product. η and c are the FP32 parts; for this test's inputs
// (R ≈ 12..50, n ≤ 5,120) they add 10..60 % to the A term. It is a bound, not a fit:
//
// Model of the arithmetic. BF16·BF16 products are exact in FP32; FP32 adds and multiplies round
// to nearest (relative error ≤ 2^-24); one wgmma k16 step C + Σ16 a·b errs by at most
// 2^-21·(|C| + Σ|a·b|) (a truncated FP32 result plus addends aligned with ≥ 3 guard bits, which
// covers the published Hopper tensor-core models); ex2.approx and lg2.approx err by ≤ 2 ulp
// (lg2: 2^-22 absolute on [0.5, 2]); rounding to BF16 errs by ≤ 2^-8 relative (8 significant
// bits; every p is 0 or ≥ 2^-126 because ex2.approx.ftz flushes smaller results to zero).
//
// 1. Weights. After all later correction factors, the kernel's unrounded p_j equals
//    e^(z_j + ζ_j) times a per-row constant, z_j being the reference's logit; the same p_j
//    feeds the numerator (rounded, below) and l, so ζ only moves the softmax weights:
//    w'_j / w_j ∈ [e^-2η, e^2η] when every |ζ_j| ≤ η, and |Σ_j (w'_j − w_j)·v_jd| ≤ (e^2η − 1)·A.
//    ζ_j gathers, in natural-log units: QKᵀ, 36 k16 steps: softmax_scale·|Δs_j| ≤ 36·2^-21·R;
//    the FP32 roundings of scale·log2 e, s·scale_log2, x − m and the correction arguments
//    m_old − m_new (all ∝ |x| ≤ log2 e·R) and the reference's own FP32 logits: 8·2^-24·R;
//    ex2 of p: 2^-22; the correction factors exp2(m_old − m_new), one per 64-key step, which
//    multiply O and l by the same float: ⌈n/64⌉·2^-22; for split requests the combine weights
//    exp(lse_i − lmax), whose errors (l's FP32 sum, lg2, FP32 roundings ∝ |lse| ≤ R + ln n, ex2)
//    act alike on every key of split i: 9·2^-24·R + (9⌈n/64⌉ + 12)·2^-24 + 9·2^-24·log2 n +
//    2^-21. Their sum is below η.
// 2. P rounding. PV uses p̃_j = p_j·(1 + δ_j), |δ_j| ≤ 2^-8, but l sums the unrounded p_j, so
//    nothing cancels against l: the error is Σ_j w'_j·δ_j·v_jd, at most 2^-8·Σ_j w'_j·|v_jd| ≤
//    2^-8·e^2η·A (a worst case; random inputs mix the signs of δ_j). The correction factors
//    scale p̃_j after its rounding, and l alike, so they leave every δ_j unchanged. (2^-8 is
//    BF16's unit roundoff: 8 significant bits.)
// 3. FP32 sums not shared by O and l, relative to Σ_j p̃_j·|v_jd| / l ≤ (1 + 2^-8)·e^2η·A:
//    PV, ⌈n/16⌉ k16 steps each within 2^-21 of the absolute sum so far (which the corrections
//    only shrink); O·corr, ⌈n/64⌉ roundings; l, at most 9⌈n/64⌉ + 12 sequential FP32
//    operations per thread; 1/l and O·(1/l); the combine's sum over ≤ ⌈n/64⌉ splits and its
//    1/Σw; the reference's FP32 rounding of out. Their sum is below c.
//    1–3 give the FP32 result y: |y − ref| ≤ ((1 + 2^-8)·e^2η·(1 + c) − 1)·A.
// 4. Output rounding: |bf16(y) − ref| ≤ 2^-8·|y| + |y − ref| ≤ 2^-8·|ref| + (1 + 2^-8)·|y − ref|.
// 5. 2^-100 covers the flushed p (each < 2^-126, at most n·2^-125·max|V| in all) and BF16
//    subnormal outputs.
// tests/mla/mla_reference_test.cpp emulates this arithmetic on the CPU and checks the bound on
// random inputs (err/tol 0.5–0.6, set by the output rounding), shows that an output scaled by
// 1 + 2^-6 or P rounded to 4 bits fails it, and builds inputs whose P all round up by nearly
// 2^-8, which reach ~87 % of it: the A term cannot be much smaller. (The earlier tolerance,
// 2^-8·|ref| + 2^-9·max|V|, rejects that correct result.)
//
// lse: relative 1e-5 (of max(1, |lse|)), the criterion; +inf must match exactly. It is
// not implied by the worst case: lse − lse_ref is a w'-weighted mean of the ζ_j plus FP32
// roundings of lse itself, bounded by η + 2^-22·(1 + |lse|), and η (dominated by the 36·2^-21·R
// of QKᵀ) can exceed 1e-5. The accumulation errors have both signs and average out over the
// keys; the CPU emulation's lse errors stay below 2e-6 relative (mla_reference_test.cpp
// reports them).
// FP8 KV: the kernel's defined numerics dequantize e4m3 · scale to BF16 before the MMAs; the
// reference does the same (runtime/mla_reference.cpp), so the same tolerances apply.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "support/gpu_test.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {

namespace {

struct Case {
  int batch, s_q, s_k, h_q, page;
  MlaKvDtype dtype;
  MlaLoadPath path = MlaLoadPath::cp_async;
};

std::string name_of(const Case& c) {
  return "batch " + std::to_string(c.batch) + " s_q " + std::to_string(c.s_q) + " s_k " +
         std::to_string(c.s_k) + " h_q " + std::to_string(c.h_q) + " page " +
         std::to_string(c.page) + (c.dtype == MlaKvDtype::bf16 ? " bf16" : " fp8") +
         (c.path == MlaLoadPath::tma ? " tma" : " cp.async");
}

struct Problem {
  MlaConfig config;
  int batch = 0, max_blocks = 0, num_blocks = 0;
  std::vector<std::int32_t> lens, table;
  std::vector<std::uint16_t> q;
  std::vector<std::uint8_t> cache;
};

Problem make_problem(const Case& cs, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  Problem p;
  p.config = MlaConfig{cs.h_q, cs.s_q, cs.page, cs.dtype, cs.path};
  p.batch = cs.batch;
  p.lens.resize(cs.batch);
  for (int b = 0; b < cs.batch; ++b) {
    const int spread = std::max(1, cs.s_k / 4);
    p.lens[b] = std::max(0, cs.s_k - spread + static_cast<int>(rng() % (2 * spread + 1)));
  }
  if (cs.batch > 1) p.lens[1] = 0;                      // zero-length request
  if (cs.batch > 2) p.lens[2] = std::min(p.lens[2], 1); // fewer keys than queries when s_q > 1
  int used = 0;
  for (int len : p.lens) {
    const int pages = (len + cs.page - 1) / cs.page;
    p.max_blocks = std::max(p.max_blocks, pages);
    used += pages;
  }
  p.max_blocks += 2;
  p.num_blocks = used + 3 + static_cast<int>(rng() % 5);   // spare pages stay NaN
  std::vector<int> perm(p.num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  p.table.assign(static_cast<std::size_t>(cs.batch) * p.max_blocks, 1 << 30);
  int next = 0;
  for (int b = 0; b < cs.batch; ++b)
    for (int j = 0; j < (p.lens[b] + cs.page - 1) / cs.page; ++j)
      p.table[static_cast<std::size_t>(b) * p.max_blocks + j] = perm[next++];

  const std::size_t row_bytes = static_cast<std::size_t>(mla_kv_row_bytes(cs.dtype));
  p.cache.assign(static_cast<std::size_t>(p.num_blocks) * cs.page * row_bytes, 0xff);  // NaN
  for (int b = 0; b < cs.batch; ++b)
    for (int t = 0; t < p.lens[b]; ++t) {
      const int page = p.table[static_cast<std::size_t>(b) * p.max_blocks + t / cs.page];
      std::uint8_t* row = p.cache.data() + (static_cast<std::size_t>(page) * cs.page + t % cs.page) * row_bytes;
      if (cs.dtype == MlaKvDtype::bf16) {
        for (int d = 0; d < kMlaHeadDim; ++d) {
          const std::uint16_t v = float_to_bf16(uni(rng));
          std::memcpy(row + 2 * d, &v, 2);
        }
      } else {
        float scales[4];
        for (float& s : scales) s = 0.002f + 0.004f * (uni(rng) + 1.0f);   // values up to ~4.5
        for (int d = 0; d < kMlaValueDim; ++d) row[d] = float_to_e4m3(uni(rng) * 448.0f);
        std::memcpy(row + 512, scales, 16);
        for (int d = 0; d < 64; ++d) {
          const std::uint16_t v = float_to_bf16(uni(rng));
          std::memcpy(row + 528 + 2 * d, &v, 2);
        }
      }
    }
  p.q.resize(static_cast<std::size_t>(cs.batch) * cs.s_q * cs.h_q * kMlaHeadDim);
  for (auto& v : p.q) v = float_to_bf16(2.0f * uni(rng));
  return p;
}

// The reference, one thread per request: out, lse, and abs_out / max_abs_logit for the bound.
struct Reference {
  std::vector<float> out, lse, abs_out, max_abs_logit;
};

Reference reference(const Problem& p) {
  const int rows = p.config.num_heads_q * p.config.seq_q;
  Reference ref;
  ref.out.assign(static_cast<std::size_t>(p.batch) * rows * kMlaValueDim, 0.0f);
  ref.abs_out.assign(ref.out.size(), 0.0f);
  ref.lse.assign(static_cast<std::size_t>(p.batch) * rows, 0.0f);
  ref.max_abs_logit.assign(ref.lse.size(), 0.0f);
  std::vector<std::future<void>> jobs;
  for (int b = 0; b < p.batch; ++b)
    jobs.push_back(std::async(std::launch::async, [&, b] {
      mla_decode_reference(
          p.config, 1, p.max_blocks, 0.0f,
          std::span(p.q).subspan(static_cast<std::size_t>(b) * rows * kMlaHeadDim, static_cast<std::size_t>(rows) * kMlaHeadDim),
          p.cache, std::span(p.table).subspan(static_cast<std::size_t>(b) * p.max_blocks, p.max_blocks),
          std::span(p.lens).subspan(b, 1),
          std::span(ref.out).subspan(static_cast<std::size_t>(b) * rows * kMlaValueDim, static_cast<std::size_t>(rows) * kMlaValueDim),
          std::span(ref.lse).subspan(static_cast<std::size_t>(b) * rows, rows),
          std::span(ref.abs_out).subspan(static_cast<std::size_t>(b) * rows * kMlaValueDim, static_cast<std::size_t>(rows) * kMlaValueDim),
          std::span(ref.max_abs_logit).subspan(static_cast<std::size_t>(b) * rows, rows));
    }));
  for (auto& j : jobs) j.get();
  return ref;
}

// A problem's device buffers and the call's arguments; out, lse and the workspace poisoned.
struct DeviceRun {
  DeviceBuffer q, cache, table, lens, out, lse, meta, ws;
  MlaDecodeArgs args;
  int parts = 0;
};

std::unique_ptr<DeviceRun> upload(const Problem& p) {
  const DeviceInfo& dev = current_device();
  const std::size_t rows = static_cast<std::size_t>(p.batch) * p.config.seq_q * p.config.num_heads_q;
  auto d = std::make_unique<DeviceRun>();
  d->parts = mla_num_sm_parts(p.config, dev.num_sms);
  d->q = DeviceBuffer(p.q.size() * 2);
  d->cache = DeviceBuffer(p.cache.size());
  d->table = DeviceBuffer(p.table.size() * 4);
  d->lens = DeviceBuffer(p.lens.size() * 4);
  d->out = DeviceBuffer(rows * kMlaValueDim * 2);
  d->lse = DeviceBuffer(rows * 4);
  d->meta = DeviceBuffer(mla_metadata_bytes(p.batch, d->parts));
  d->ws = DeviceBuffer(mla_workspace_bytes(p.config, p.batch, dev.num_sms));
  d->q.upload(p.q);
  d->cache.upload(p.cache);
  d->table.upload(p.table);
  d->lens.upload(p.lens);
  d->out.fill_bytes(0xff);
  d->lse.fill_bytes(0xff);
  d->ws.fill_bytes(0xff);
  MlaDecodeArgs& a = d->args;
  a.batch = p.batch;
  a.num_blocks = p.num_blocks;
  a.max_blocks_per_seq = p.max_blocks;
  a.q = d->q.ptr();
  a.k_cache = d->cache.ptr();
  a.block_table = d->table.ptr();
  a.cache_seqlens = d->lens.ptr();
  a.out = d->out.ptr();
  a.lse = d->lse.ptr();
  a.metadata = d->meta.ptr();
  a.metadata_bytes = d->meta.bytes();
  a.workspace = d->ws.ptr();
  a.workspace_bytes = d->ws.bytes();
  return d;
}

// The GPU's schedule is the host twin's.
void check_metadata(const Problem& p, const DeviceRun& d) {
  const auto meta_gpu = d.meta.download<std::int32_t>(d.meta.bytes() / 4);
  const MlaSchedule twin = mla_schedule_host(p.lens, d.parts);
  for (int i = 0; i < d.parts; ++i)
    for (int k = 0; k < 5; ++k)
      ASSERT_EQ(meta_gpu[i * 8 + k], (&twin.parts[i].begin_req)[k]) << "part " << i << " field " << k;
  for (int b = 0; b <= p.batch; ++b) ASSERT_EQ(meta_gpu[d.parts * 8 + b], twin.split_begin[b]);
}

void check_outputs(const Problem& p, const DeviceRun& d) {
  const int h = p.config.num_heads_q, sq = p.config.seq_q, rows = h * sq;
  const std::size_t out_elems = static_cast<std::size_t>(p.batch) * rows * kMlaValueDim;
  const Reference ref = reference(p);
  const auto gpu_out = d.out.download<std::uint16_t>(out_elems);
  const auto gpu_lse = d.lse.download<float>(ref.lse.size());
  int bad = 0;
  double dot = 0, norm = 0, worst = 0;
  for (std::size_t i = 0; i < out_elems && bad < 10; ++i) {
    const std::size_t b = i / (static_cast<std::size_t>(rows) * kMlaValueDim);
    const int row = static_cast<int>((i / kMlaValueDim) % rows), qi = row / h, hh = row % h;
    const int len = p.lens[b];
    const int visible = std::min(len, std::max(0, len - sq + 1 + qi));
    const float g = bf16_to_float(gpu_out[i]), r = ref.out[i];
    const double tol = mla_out_tolerance(r, ref.abs_out[i],
                                         ref.max_abs_logit[(b * h + hh) * sq + qi], visible);
    dot += static_cast<double>(g) * r;
    norm += static_cast<double>(g) * g + static_cast<double>(r) * r;
    const double err = std::fabs(static_cast<double>(g) - r);
    worst = std::max(worst, err / tol);
    if (!(err <= tol)) {
      ++bad;
      ADD_FAILURE() << "out[" << i << "] (request " << b << ", row " << row << ", dim "
                    << i % kMlaValueDim << ") = " << g << ", reference " << r << ", A "
                    << ref.abs_out[i] << ", tolerance " << tol;
    }
  }
  std::cout << "  max |out − ref| / tolerance " << worst << "\n";
  if (norm > 0) {
    EXPECT_LT(1.0 - 2.0 * dot / norm, 1e-5) << "cosine difference of out";
  }
  for (std::size_t i = 0; i < ref.lse.size() && bad < 20; ++i) {
    const float g = gpu_lse[i], r = ref.lse[i];
    const bool ok = std::isinf(r) ? g == r : std::fabs(g - r) <= 1e-5f * std::max(1.0f, std::fabs(r));
    if (!ok) {
      ++bad;
      ADD_FAILURE() << "lse[" << i << "] (request " << i / rows << ") = " << g << ", reference " << r;
    }
  }
}

void run_case(const Case& cs, unsigned seed) {
  SCOPED_TRACE(name_of(cs) + ", seed " + std::to_string(seed));
  const Problem p = make_problem(cs, seed);
  auto d = upload(p);
  mla_decode_metadata(p.config, p.batch, d->lens.ptr(), d->meta.ptr(), d->meta.bytes(), nullptr);
  mla_decode(p.config, d->args, nullptr);
  ASSERT_EQ(driver().cuCtxSynchronize(), CUDA_SUCCESS);
  check_metadata(p, *d);
  check_outputs(p, *d);
}

unsigned fresh_seed() { return std::random_device{}(); }

constexpr auto kBf16 = MlaKvDtype::bf16;
constexpr auto kFp8 = MlaKvDtype::fp8_e4m3;

void sweep(std::initializer_list<Case> cases, MlaLoadPath path) {
  const unsigned seed = fresh_seed();
  for (Case cs : cases) {
    cs.path = path;
    run_case(cs, seed);
  }
}

void bf16_sweep(MlaLoadPath path) {
  sweep({Case{1, 1, 20, 16, 64, kBf16}, Case{2, 2, 140, 32, 16, kBf16},
         Case{6, 4, 4096, 16, 64, kBf16}, Case{64, 1, 140, 128, 32, kBf16},
         Case{2, 2, 4096, 128, 128, kBf16}, Case{64, 4, 20, 16, 64, kBf16},
         Case{2, 1, 4096, 64, 64, kBf16}, Case{6, 2, 140, 64, 64, kBf16},
         Case{64, 2, 20, 32, 16, kBf16}},
        path);
}

void fp8_sweep(MlaLoadPath path) {
  sweep({Case{6, 1, 140, 64, 64, kFp8}, Case{2, 2, 4096, 128, 64, kFp8},
         Case{64, 2, 140, 32, 16, kFp8}, Case{1, 4, 20, 128, 128, kFp8},
         Case{6, 1, 4096, 16, 32, kFp8}},
        path);
}

// Every split kernel of the DeepSeek-V3 set (h_q 16..128, s_q 1 and 2, page 64, BF16 and FP8)
// runs at least once, so a green run proves each of them, not only its template.
void deepseek_v3_sweep(MlaLoadPath path) {
  const unsigned seed = fresh_seed();
  for (MlaKvDtype dtype : {kBf16, kFp8})
    for (int h_q : {16, 32, 64, 128})
      for (int s_q : {1, 2}) run_case(Case{6, s_q, 300, h_q, 64, dtype, path}, seed);
}

// The default load path (cp.async, decode_split.cuh).
TEST(MlaGpu, Bf16SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  bf16_sweep(MlaLoadPath::cp_async);
}

TEST(MlaGpu, Fp8SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  fp8_sweep(MlaLoadPath::cp_async);
}

TEST(MlaGpu, DeepSeekV3ShapesMatchTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  deepseek_v3_sweep(MlaLoadPath::cp_async);
}

// The TMA / bulk-copy load path (decode_split_tma.cuh), not a default until these pass.
TEST(MlaGpu, TmaBf16SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  bf16_sweep(MlaLoadPath::tma);
}

TEST(MlaGpu, TmaFp8SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  fp8_sweep(MlaLoadPath::tma);
}

TEST(MlaGpu, TmaDeepSeekV3ShapesMatchTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  deepseek_v3_sweep(MlaLoadPath::tma);
}

// One metadata step serves two layers (same lengths, different queries), and the whole step
// (metadata + both layers) is captured in a CUDA graph and replayed.
TEST(MlaGpu, MetadataIsReusedAcrossLayersInACapturedGraph) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Case cs{6, 2, 700, 64, 64, MlaKvDtype::bf16};
  const Problem a = make_problem(cs, seed);
  Problem b = a;
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  for (auto& v : b.q) v = float_to_bf16(uni(rng));
  auto da = upload(a);
  auto db = upload(b);
  db->args.metadata = da->meta.ptr();   // layer 2 reads layer 1's metadata

  CUstream stream = nullptr;
  ASSERT_EQ(driver().cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  // Load (compile) every kernel before capture: compiling inside a capture is not allowed.
  mla_decode_metadata(a.config, a.batch, da->lens.ptr(), da->meta.ptr(), da->meta.bytes(), stream);
  mla_decode(a.config, da->args, stream);
  ASSERT_EQ(driver().cuStreamSynchronize(stream), CUDA_SUCCESS);
  da->out.fill_bytes(0xff);
  da->lse.fill_bytes(0xff);
  da->meta.fill_bytes(0xff);
  ASSERT_EQ(driver().cuCtxSynchronize(), CUDA_SUCCESS);

  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  ASSERT_EQ(driver().cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
  mla_decode_metadata(a.config, a.batch, da->lens.ptr(), da->meta.ptr(), da->meta.bytes(), stream);
  mla_decode(a.config, da->args, stream);
  mla_decode(b.config, db->args, stream);
  ASSERT_EQ(driver().cuStreamEndCapture(stream, &graph), CUDA_SUCCESS);
  ASSERT_EQ(driver().cuGraphInstantiate(&exec, graph, 0), CUDA_SUCCESS);
  ASSERT_EQ(driver().cuGraphLaunch(exec, stream), CUDA_SUCCESS);
  ASSERT_EQ(driver().cuStreamSynchronize(stream), CUDA_SUCCESS);
  driver().cuGraphExecDestroy(exec);
  driver().cuGraphDestroy(graph);
  driver().cuStreamDestroy(stream);

  check_metadata(a, *da);
  {
    SCOPED_TRACE("layer 1");
    check_outputs(a, *da);
  }
  {
    SCOPED_TRACE("layer 2, metadata of layer 1");
    check_outputs(b, *db);
  }
}

}  // namespace
}  // namespace shapejit::runtime
