// The GPU measuring family for GEMM candidates (normal FP8 and BF16, grouped contiguous and
// masked FP8): a reference check on fresh random inputs (output poisoned first), then timing by
// the shared GpuTimer, as one CUDA-graph launch per run for decode-sized shapes when asked.
// Grouped shapes are measured as their record names them: M_sum rows shared out over the
// groups (contiguous), or every group holding the expected rows (masked). Runs each candidate through the public front end with its
// config forced (ForcedGemmConfig), so what is timed is exactly what a call with a winning
// record runs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "gemm_tuning.hpp"
#include "gpu_measurers.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/gemm.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/tuning_records.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {
namespace {

// NOTES: 1 − 2Σxy/Σ(x²+y²) below 1e-3 is the GEMM GPU tests' bound: the BF16 rounding of the
// output alone gives ~1e-5, a wrong tile, scale or missed K block gives > 1e-2. Grouped layouts
// use the same bound: each checked row is one row of an ordinary GEMM against its group's B
// (same inputs, scaling and output rounding), and a row computed with another group's B or
// scales is uncorrelated with its reference (diff near 1).
constexpr double kMaxDiff = 1e-3;
constexpr double kReferenceMacs = 2e8;   // host work per check: sampled rows, all columns
constexpr int kGraphMaxM = 128;          // decode-sized: timed as a graph launch when asked
constexpr std::size_t kScaleSlackBytes = 4096;

double calc_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double xy = 0, xx_yy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx_yy += x[i] * x[i] + y[i] * y[i];
  }
  return xx_yy == 0 ? 0.0 : 1.0 - 2.0 * xy / xx_yy;
}

// Operands of one problem on the device, with their host copies for the reference. Grouped
// layouts: B and its scales hold every group; row_group says which group each row of A and D
// belongs to (-1: a padding row of the contiguous layout, or a row beyond a masked group's
// count: the kernel leaves those unspecified, so they are never checked).
struct Operands {
  GemmProblem p;
  int rows = 0;                 // rows of A and D: M, M_sum, or G·M_max
  int m_max = 0;                // masked: rows per group in A and D
  DeviceBuffer a, b, d, sa, sb, layout;   // layout: m_indices (contiguous) or masked_m (masked)
  std::vector<std::uint8_t> ha8, hb8;
  std::vector<std::uint16_t> ha16, hb16;
  std::vector<float> hsa, hsb;
  std::vector<int> row_group;
  std::int64_t sa_stride = 0;
};

// Random finite E4M3 bytes (every exponent, both signs), eight from each draw.
void fill_e4m3(std::vector<std::uint8_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = 0; i < v.size(); i += 8) {
    std::uint64_t bits = rng();
    for (std::size_t j = i; j < std::min(v.size(), i + 8); ++j, bits >>= 8) {
      const auto x = static_cast<std::uint8_t>(bits);
      v[j] = (x & 0x7f) == 0x7f ? static_cast<std::uint8_t>(x ^ 1) : x;   // never NaN
    }
  }
}

// Which rows belong to which group. Contiguous: the align_m blocks of M_sum shared out over
// the groups in order, each group's last block partly padding (a random count, at least one
// row in use), groups past the blocks empty. Masked: every group holds M_max = the shape's
// expected rows; with `vary` (the check), a random count of 1..M_max per group instead, the
// first group full, so partial and full tiles are both checked.
std::vector<int> group_rows(const GemmProblem& p, int* m_max, bool vary, std::mt19937_64& rng,
                            std::vector<int>* counts) {
  std::vector<int> row_group;
  if (p.layout == GemmLayout::grouped_contiguous) {
    const int blocks = p.m / p.align_m;
    std::uniform_int_distribution<int> pad(0, p.align_m - 1);
    for (int g = 0; g < p.num_groups; ++g) {
      const int mine = blocks / p.num_groups + (g < blocks % p.num_groups ? 1 : 0);
      const int seg = mine * p.align_m, used = seg == 0 ? 0 : seg - pad(rng);
      for (int r = 0; r < seg; ++r) row_group.push_back(r < used ? g : -1);
    }
    counts->assign(row_group.begin(), row_group.end());   // m_indices
  } else if (p.layout == GemmLayout::grouped_masked) {
    *m_max = p.m;
    std::uniform_int_distribution<int> count(1, p.m);
    counts->clear();
    for (int g = 0; g < p.num_groups; ++g) {
      const int used = vary && g > 0 ? count(rng) : p.m;
      counts->push_back(used);
      for (int r = 0; r < p.m; ++r) row_group.push_back(r < used ? g : -1);
    }
  } else {
    row_group.assign(static_cast<std::size_t>(p.m), 0);
  }
  return row_group;
}

std::unique_ptr<Operands> make_operands(const GemmProblem& p, bool vary, std::mt19937_64& rng) {
  auto o = std::make_unique<Operands>();
  o->p = p;
  std::vector<int> layout;
  o->row_group = group_rows(p, &o->m_max, vary, rng, &layout);
  o->rows = static_cast<int>(o->row_group.size());
  const std::size_t rows = static_cast<std::size_t>(o->rows), n = static_cast<std::size_t>(p.n),
                    k = static_cast<std::size_t>(p.k);
  const std::size_t groups = p.layout == GemmLayout::normal ? 1 : static_cast<std::size_t>(p.num_groups);
  std::uniform_real_distribution<float> scale(0.25f, 2.0f);
  if (p.kind == GemmKind::fp8_1d2d) {
    o->ha8.resize(rows * k);
    o->hb8.resize(groups * n * k);
    fill_e4m3(o->ha8, rng);
    fill_e4m3(o->hb8, rng);
    o->sa_stride = static_cast<std::int64_t>((rows + 3) / 4 * 4);
    o->hsa.resize(k / 128 * static_cast<std::size_t>(o->sa_stride));
    o->hsb.resize(groups * ((n + 127) / 128) * (k / 128));
    for (auto& x : o->hsa) x = scale(rng);
    for (auto& x : o->hsb) x = scale(rng);
    o->a = DeviceBuffer(o->ha8.size());
    o->b = DeviceBuffer(o->hb8.size());
    // Slack past the scales (zeroed): a reference library may read its scale layout's padding.
    o->sa = DeviceBuffer(o->hsa.size() * 4 + kScaleSlackBytes);
    o->sb = DeviceBuffer(o->hsb.size() * 4 + kScaleSlackBytes);
    o->sa.fill_bytes(0);
    o->sb.fill_bytes(0);
    o->a.upload(o->ha8);
    o->b.upload(o->hb8);
    o->sa.upload(o->hsa);
    o->sb.upload(o->hsb);
  } else {
    o->ha16.resize(rows * k);
    o->hb16.resize(n * k);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& x : o->ha16) x = float_to_bf16(u(rng));
    for (auto& x : o->hb16) x = float_to_bf16(u(rng));
    o->a = DeviceBuffer(o->ha16.size() * 2);
    o->b = DeviceBuffer(o->hb16.size() * 2);
    o->a.upload(o->ha16);
    o->b.upload(o->hb16);
  }
  if (!layout.empty()) {
    o->layout = DeviceBuffer(layout.size() * 4);
    o->layout.upload(layout);
  }
  o->d = DeviceBuffer(rows * n * (p.kind == GemmKind::bf16 && p.out_fp32 ? 4 : 2));
  return o;
}

void run(const Operands& o, CUstream stream, Runtime& runtime) {
  const GemmProblem& p = o.p;
  if (p.kind == GemmKind::bf16) {
    GemmBf16Args g;
    g.a = o.a.ptr(); g.b = o.b.ptr(); g.d = o.d.ptr();
    g.m = p.m; g.n = p.n; g.k = p.k;
    if (p.out_fp32) g.d_dtype = DType::f32;
    gemm_bf16_nt(g, stream, runtime);
  } else if (p.layout == GemmLayout::grouped_contiguous) {
    GemmFp8GroupedContiguousArgs g;
    g.a = o.a.ptr(); g.b = o.b.ptr(); g.a_scales = o.sa.ptr(); g.b_scales = o.sb.ptr(); g.d = o.d.ptr();
    g.m_indices = o.layout.ptr();
    g.m_sum = o.rows; g.n = p.n; g.k = p.k; g.num_groups = p.num_groups; g.align_m = p.align_m;
    gemm_fp8_grouped_contiguous(g, stream, runtime);
  } else if (p.layout == GemmLayout::grouped_masked) {
    GemmFp8GroupedMaskedArgs g;
    g.a = o.a.ptr(); g.b = o.b.ptr(); g.a_scales = o.sa.ptr(); g.b_scales = o.sb.ptr(); g.d = o.d.ptr();
    g.masked_m = o.layout.ptr();
    g.m_max = o.m_max; g.n = p.n; g.k = p.k; g.num_groups = p.num_groups;
    g.expected_m = p.m;   // the shape's M: the problem (and so the config) the candidate is for
    gemm_fp8_grouped_masked(g, stream, runtime);
  } else {
    GemmFp8Args g;
    g.a = o.a.ptr(); g.b = o.b.ptr(); g.a_scales = o.sa.ptr(); g.b_scales = o.sb.ptr(); g.d = o.d.ptr();
    g.m = p.m; g.n = p.n; g.k = p.k;
    gemm_fp8_nt(g, stream, runtime);
  }
}

// The reference for sampled rows in use (all columns) in float64, and what the kernel wrote
// there: the first and last row in use and random others.
double check_rows(const Operands& o, std::mt19937_64& rng) {
  const GemmProblem& p = o.p;
  std::vector<int> in_use;
  for (int r = 0; r < o.rows; ++r)
    if (o.row_group[static_cast<std::size_t>(r)] >= 0) in_use.push_back(r);
  if (in_use.empty()) return 0.0;
  const int max_rows = std::clamp(static_cast<int>(kReferenceMacs / (static_cast<double>(p.n) * p.k)), 2, 64);
  std::vector<int> rows{in_use.front(), in_use.back()};
  std::uniform_int_distribution<std::size_t> pick(0, in_use.size() - 1);
  while (static_cast<int>(rows.size()) < std::min<int>(max_rows, static_cast<int>(in_use.size())))
    rows.push_back(in_use[pick(rng)]);
  const bool f32 = p.kind == GemmKind::bf16 && p.out_fp32;
  const std::size_t out_bytes = f32 ? 4 : 2;
  std::vector<std::uint8_t> d(o.d.bytes());
  o.d.download(d.data(), d.size());
  std::vector<double> ref, got;
  const int kb_count = p.k / 128, nb_count = (p.n + 127) / 128;
  for (int r : rows) {
    const std::size_t g = static_cast<std::size_t>(o.row_group[static_cast<std::size_t>(r)]);
    const std::uint8_t* b8 = o.hb8.empty() ? nullptr : &o.hb8[g * p.n * p.k];
    const float* sb = o.hsb.empty() ? nullptr : &o.hsb[g * nb_count * kb_count];
    for (int j = 0; j < p.n; ++j) {
      double acc = 0;
      if (p.kind == GemmKind::fp8_1d2d) {
        for (int kb = 0; kb < kb_count; ++kb) {
          double part = 0;
          for (int kk = kb * 128; kk < kb * 128 + 128; ++kk)
            part += static_cast<double>(e4m3_to_float(o.ha8[static_cast<std::size_t>(r) * p.k + kk])) *
                    e4m3_to_float(b8[static_cast<std::size_t>(j) * p.k + kk]);
          acc += part * o.hsa[static_cast<std::size_t>(kb) * o.sa_stride + r] *
                 sb[static_cast<std::size_t>(j / 128) * kb_count + kb];
        }
      } else {
        for (int kk = 0; kk < p.k; ++kk)
          acc += static_cast<double>(bf16_to_float(o.ha16[static_cast<std::size_t>(r) * p.k + kk])) *
                 bf16_to_float(o.hb16[static_cast<std::size_t>(j) * p.k + kk]);
      }
      ref.push_back(acc);
      const std::size_t at = (static_cast<std::size_t>(r) * p.n + j) * out_bytes;
      if (f32) {
        float v;
        std::memcpy(&v, &d[at], 4);
        got.push_back(v);
      } else {
        std::uint16_t v;
        std::memcpy(&v, &d[at], 2);
        got.push_back(bf16_to_float(v));
      }
    }
  }
  return calc_diff(ref, got);
}

class GemmGpuMeasurer final : public detail::FamilyMeasurer {
 public:
  GemmGpuMeasurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer)
      : FamilyMeasurer("GEMM", runtime, options, timer) {}

  std::string unsupported(const Candidate& c) override {
    const GemmProblem p = problem(c);
    if (p.layout == GemmLayout::grouped_contiguous && p.m % p.align_m != 0)
      return "M_sum " + std::to_string(p.m) + " is not a multiple of align_m " + std::to_string(p.align_m);
    return {};
  }

  std::string check(const Candidate& c) override {
    // Fresh random inputs for every check; the output poisoned (0xFF: NaN in BF16 and FP32).
    const GemmProblem p = problem(c);
    std::unique_ptr<Operands> o = make_operands(p, true, rng_);
    o->d.fill_bytes(0xFF);
    try {
      const ForcedGemmConfig forced(config(c, p));
      run(*o, nullptr, runtime_);
      SHAPEJIT_CU(driver().cuCtxSynchronize());
    } catch (const Error& e) {
      return std::string("launch failed: ") + e.what();
    }
    const double diff = check_rows(*o, rng_);
    if (!(diff < kMaxDiff)) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "diff %.3g against the float64 reference (bound %.0e)", diff, kMaxDiff);
      return buf;
    }
    return {};
  }

  // cuBLASLt (or whatever the options' provider gives) on the operands the candidates were
  // timed on, the same timer and graph setting; the provider's ways in order until one runs.
  std::optional<ReferenceMeasurement> measure_reference(const Candidate& c, int runs) override {
    const GemmProblem p = problem(c);
    if (!options_.gemm_reference || p.layout != GemmLayout::normal) return std::nullopt;
    const Operands* o = operands_for(c, p);
    GemmOperands g;
    g.problem = p;
    g.a = o->a.ptr(); g.b = o->b.ptr(); g.d = o->d.ptr(); g.a_scales = o->sa.ptr(); g.b_scales = o->sb.ptr();
    g.a_scale_stride = o->sa_stride;
    ReferenceMeasurement out;
    std::vector<ReferenceLaunch> ways;
    try {
      ways = options_.gemm_reference(g);
    } catch (const Error& e) {
      out.error = e.what();
      return out;
    }
    if (ways.empty()) out.error = "no algorithm for this problem";
    for (ReferenceLaunch& way : ways) {
      out.name = way.name;
      try {
        const TimedLaunch t = timer_.prepare(way.launch, options_.cuda_graph && p.m <= kGraphMaxM);
        out.time = timer_.time(t, runs);
        out.error.clear();
        return out;
      } catch (const Error& e) {
        out.error = e.what();
      }
    }
    return out;
  }

 private:
  GemmProblem problem(const Candidate& c) { return detail::gemm_problem(c.op, c.shape_json, current_device()); }
  static GemmConfig config(const Candidate& c, const GemmProblem& p) {
    cache::TuningRecord r;
    r.config_json = c.config_json;
    const std::optional<GemmConfig> config = gemm_config_of(r, p);
    if (!config) fail(Errc::invalid_argument, "tune: candidate config does not parse: " + c.config_json);
    return *config;
  }

  // The timing operands of the candidate's problem (one problem's at a time).
  const Operands* operands_for(const Candidate& c, const GemmProblem& p) {
    const std::string key = c.op + c.shape_json;
    if (!operands_.count(key)) {
      operands_.clear();
      operands_[key] = make_operands(p, false, rng_);
    }
    return operands_[key].get();
  }

  // The candidate ready to time on operands shared per problem (one problem's at a time).
  TimedLaunch prepare(const Candidate& c) override {
    const GemmProblem p = problem(c);
    const Operands* o = operands_for(c, p);
    Runtime* rt = &runtime_;
    return timer_.prepare(
        [o, rt, cfg = config(c, p)](CUstream s) {
          const ForcedGemmConfig forced(cfg);
          run(*o, s, *rt);
        },
        options_.cuda_graph && p.m <= kGraphMaxM);
  }

  std::map<std::string, std::unique_ptr<Operands>> operands_;
};

}  // namespace

std::unique_ptr<Measurer> detail::make_gemm_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options,
                                                         GpuTimer& timer) {
  return std::make_unique<GemmGpuMeasurer>(runtime, options, timer);
}

}  // namespace shapejit::runtime::tuning
