// MLA decode on the GPU against the FP32 CPU reference, per request over the gathered pages.
// Unused cache slots hold NaN, the block table is a random permutation of the pages (unused
// entries a huge index), lengths vary and include zero and lengths below s_q, outputs are
// poisoned with NaN before the call.
//
// Tolerances. out: |gpu − ref| ≤ 2^-8·|ref| + 2^-9·max|V|. The first term is one BF16 rounding
// of the output; the second covers P being rounded to BF16 (relative 2^-9 per weight) before
// the PV product, whose weights sum to one, so the absolute error is at most 2^-9·max|V|.
// lse: relative 1e-5 (QKᵀ is exact FP32 accumulation of BF16 products; the rest is FP32
// exp2/log2 with ~1e-7 relative error, far inside). +inf must match exactly.
// FP8 KV: the kernel's defined numerics dequantize e4m3 · scale to BF16 before the MMAs; the
// reference does the same (runtime/mla_reference.cpp), so the same tolerances apply.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
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
};

std::string name_of(const Case& c) {
  return "batch " + std::to_string(c.batch) + " s_q " + std::to_string(c.s_q) + " s_k " +
         std::to_string(c.s_k) + " h_q " + std::to_string(c.h_q) + " page " +
         std::to_string(c.page) + (c.dtype == MlaKvDtype::bf16 ? " bf16" : " fp8");
}

struct Problem {
  MlaConfig config;
  int batch = 0, max_blocks = 0, num_blocks = 0;
  std::vector<std::int32_t> lens, table;
  std::vector<std::uint16_t> q;
  std::vector<std::uint8_t> cache;
  float max_abs_v = 0.0f;
};

Problem make_problem(const Case& cs, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  Problem p;
  p.config = MlaConfig{cs.h_q, cs.s_q, cs.page, cs.dtype};
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
          if (d < kMlaValueDim) p.max_abs_v = std::max(p.max_abs_v, std::fabs(bf16_to_float(v)));
        }
      } else {
        float scales[4];
        for (float& s : scales) s = 0.002f + 0.004f * (uni(rng) + 1.0f);   // values up to ~4.5
        for (int d = 0; d < kMlaValueDim; ++d) {
          row[d] = float_to_e4m3(uni(rng) * 448.0f);
          p.max_abs_v = std::max(p.max_abs_v, std::fabs(e4m3_to_float(row[d]) * scales[d / 128]));
        }
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

// The reference, one thread per request.
void reference(const Problem& p, std::vector<float>& out, std::vector<float>& lse) {
  const int rows = p.config.num_heads_q * p.config.seq_q;
  out.assign(static_cast<std::size_t>(p.batch) * rows * kMlaValueDim, 0.0f);
  lse.assign(static_cast<std::size_t>(p.batch) * rows, 0.0f);
  std::vector<std::future<void>> jobs;
  for (int b = 0; b < p.batch; ++b)
    jobs.push_back(std::async(std::launch::async, [&, b] {
      mla_decode_reference(
          p.config, 1, p.max_blocks, 0.0f,
          std::span(p.q).subspan(static_cast<std::size_t>(b) * rows * kMlaHeadDim, static_cast<std::size_t>(rows) * kMlaHeadDim),
          p.cache, std::span(p.table).subspan(static_cast<std::size_t>(b) * p.max_blocks, p.max_blocks),
          std::span(p.lens).subspan(b, 1),
          std::span(out).subspan(static_cast<std::size_t>(b) * rows * kMlaValueDim, static_cast<std::size_t>(rows) * kMlaValueDim),
          std::span(lse).subspan(static_cast<std::size_t>(b) * rows, rows));
    }));
  for (auto& j : jobs) j.get();
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
  const int rows = p.config.num_heads_q * p.config.seq_q;
  const std::size_t out_elems = static_cast<std::size_t>(p.batch) * rows * kMlaValueDim;
  std::vector<float> ref_out, ref_lse;
  reference(p, ref_out, ref_lse);
  const auto gpu_out = d.out.download<std::uint16_t>(out_elems);
  const auto gpu_lse = d.lse.download<float>(ref_lse.size());
  int bad = 0;
  double dot = 0, norm = 0;
  for (std::size_t i = 0; i < out_elems && bad < 10; ++i) {
    const float g = bf16_to_float(gpu_out[i]), r = ref_out[i];
    const float tol = std::ldexp(std::fabs(r), -8) + std::ldexp(p.max_abs_v, -9);
    dot += static_cast<double>(g) * r;
    norm += static_cast<double>(g) * g + static_cast<double>(r) * r;
    if (!(std::fabs(g - r) <= tol)) {
      ++bad;
      ADD_FAILURE() << "out[" << i << "] (request " << i / (rows * kMlaValueDim) << ", row "
                    << (i / kMlaValueDim) % rows << ", dim " << i % kMlaValueDim << ") = " << g
                    << ", reference " << r << ", tolerance " << tol;
    }
  }
  if (norm > 0) {
    EXPECT_LT(1.0 - 2.0 * dot / norm, 1e-5) << "cosine difference of out";
  }
  for (std::size_t i = 0; i < ref_lse.size() && bad < 20; ++i) {
    const float g = gpu_lse[i], r = ref_lse[i];
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

TEST(MlaGpu, Bf16SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  constexpr auto kBf16 = MlaKvDtype::bf16;
  for (const Case& cs : {Case{1, 1, 20, 16, 64, kBf16}, Case{2, 2, 140, 32, 16, kBf16},
                         Case{6, 4, 4096, 16, 64, kBf16}, Case{64, 1, 140, 128, 32, kBf16},
                         Case{2, 2, 4096, 128, 128, kBf16}, Case{64, 4, 20, 16, 64, kBf16},
                         Case{2, 1, 4096, 64, 64, kBf16}, Case{6, 2, 140, 64, 64, kBf16},
                         Case{64, 2, 20, 32, 16, kBf16}})
    run_case(cs, seed);
}

TEST(MlaGpu, Fp8SweepMatchesTheReference) {
  SHAPEJIT_REQUIRE_GPU();
  const unsigned seed = fresh_seed();
  constexpr auto kFp8 = MlaKvDtype::fp8_e4m3;
  for (const Case& cs : {Case{6, 1, 140, 64, 64, kFp8}, Case{2, 2, 4096, 128, 64, kFp8},
                         Case{64, 2, 140, 32, 16, kFp8}, Case{1, 4, 20, 128, 128, kFp8},
                         Case{6, 1, 4096, 16, 32, kFp8}})
    run_case(cs, seed);
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
