// The GPU measuring family for the MoE launch shapes (moe_dispatch, moe_swiglu, moe_combine).
// Each candidate runs through the public front end with its launch shape (moe_launch.hpp), so
// what is timed is what a call with a winning record runs.
//
// Check, on fresh random inputs with every output poisoned first (0xFF: NaN in FP8, BF16, FP32),
// the host references of the MoE GPU tests:
//   dispatch  FP8 rows and scales bit-exact to quant's 1x128 reference (the formats are
//             bit-identical by design); rows no entry names stay poisoned;
//   SwiGLU    each scale within 1e-5 (relative) of max(amax, 1e-4) / 448 of the float64 values,
//             the dequantized values within calc_diff 1e-3 (FP8 rounding alone gives ~2.5e-4);
//             skipped rows stay poisoned;
//   combine   every element within one BF16 rounding (2^-8 relative) + 1e-6 of the float64 sum;
// and a tiled candidate must reproduce the proven kernel's output on the same inputs bit for
// bit (same FP32 operations in the same order), which also pins SwiGLU's __expf rounding.
// The check runs a small row count that is not a multiple of any ROWS_PER_BLOCK (tails); timing
// runs the shape's full row count.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "gpu_measurers.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/moe_launch.hpp"
#include "shapejit/runtime/quant.hpp"

namespace shapejit::runtime::tuning {
namespace {

constexpr double kSwigluMaxDiff = 1e-3;   // FP8 E4M3 bound (tests/moe/moe_gpu_test.cpp)
constexpr int kCheckRows = 1027;          // rows (tokens) of a check: tails for every ROWS_PER_BLOCK
constexpr double kDroppedEntries = 0.05;  // top-k entries not routed here (slot -1), as in the tests
constexpr int kGraphMaxRows = 1024;       // decode-sized: timed as a graph launch when asked

double calc_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double xy = 0, xx_yy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy += x[i] * y[i];
    xx_yy += x[i] * x[i] + y[i] * y[i];
  }
  return xx_yy == 0 ? 0.0 : 1.0 - 2.0 * xy / xx_yy;
}

std::vector<std::uint16_t> random_bf16(std::size_t n, std::mt19937_64& rng, float sigma) {
  std::normal_distribution<float> d(0.f, sigma);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) {
    const float f = d(rng);
    x = float_to_bf16(f == 0.f ? 1e-3f : f);
  }
  return v;
}

MoeLaunch launch_of(const Candidate& c) {
  const nlohmann::json j = nlohmann::json::parse(c.config_json);
  return {j.at("kernel").get<std::string>() == "tiled", j.at("COLS_PER_THREAD").get<int>(),
          j.at("ROWS_PER_BLOCK").get<int>()};
}

// One step's buffers for `rows` rows (tokens for dispatch and combine) with host copies of the
// inputs. The config is masked with one expert whose capacity is the launch's row count, so the
// front end's num_rows is exactly the rows the buffers hold.
struct StepData {
  MoeStepShape shape;
  MoeConfig config;
  int tokens = 0;
  std::int64_t num_rows = 0, stride = 0;
  std::vector<std::uint16_t> in;       // x [T, H], h [R, 2I] or y [R, H]; empty when timing only
  std::vector<int> slots;              // token_slot [T, k] or row_to_token [R]
  std::vector<float> weights;          // combine: [T, k]
  DeviceBuffer d_in, d_slots, d_weights, d_out, d_scales;
  MoeRouting routing;

  std::size_t out_bytes() const { return d_out.bytes(); }
};

std::unique_ptr<StepData> make_data(const MoeStepShape& shape, int rows, std::mt19937_64& rng, bool random_values) {
  auto d = std::make_unique<StepData>();
  d->shape = shape;
  MoeConfig& c = d->config;
  c = shape.config;
  c.layout = MoeLayout::masked;
  c.num_experts = 1;
  const int k = c.top_k;
  const int H = c.hidden, I = c.intermediate;
  std::bernoulli_distribution dropped(kDroppedEntries);
  if (shape.step == MoeStep::swiglu) {
    d->tokens = rows;
    c.max_tokens_per_expert = (rows + 63) / 64 * 64;
    d->num_rows = moe_num_rows(c, d->tokens);
    d->slots.resize(d->num_rows);
    for (std::int64_t r = 0; r < d->num_rows; ++r) d->slots[r] = r < rows && !dropped(rng) ? static_cast<int>(r) : -1;
    if (random_values) d->in = random_bf16(static_cast<std::size_t>(d->num_rows) * 2 * I, rng, 3.0f);
  } else {
    d->tokens = rows;
    c.max_tokens_per_expert = (rows * k + 63) / 64 * 64;
    d->num_rows = moe_num_rows(c, d->tokens);
    // Every entry gets its own row, scattered as the expert-major layout scatters them.
    std::vector<int> perm(static_cast<std::size_t>(rows) * k);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    d->slots.resize(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) d->slots[i] = dropped(rng) ? -1 : perm[i];
    if (random_values)
      d->in = random_bf16(shape.step == MoeStep::dispatch ? static_cast<std::size_t>(rows) * H
                                                          : static_cast<std::size_t>(d->num_rows) * H,
                          rng, shape.step == MoeStep::dispatch ? 2.0f : 1.0f);
    if (shape.step == MoeStep::combine) {
      std::uniform_real_distribution<float> wd(0.05f, 1.0f);
      d->weights.resize(perm.size());
      for (auto& w : d->weights) w = wd(rng);
    }
  }
  d->stride = moe_scale_stride(c, d->tokens);
  const std::size_t in_elems = shape.step == MoeStep::swiglu    ? static_cast<std::size_t>(d->num_rows) * 2 * I
                               : shape.step == MoeStep::dispatch ? static_cast<std::size_t>(rows) * H
                                                                 : static_cast<std::size_t>(d->num_rows) * H;
  d->d_in = DeviceBuffer(in_elems * 2);
  if (random_values)
    d->d_in.upload(d->in);
  else
    d->d_in.fill_bytes(0x3F);   // BF16 0x3F3F = 0.746 everywhere: timing does not depend on values
  d->d_slots = DeviceBuffer(std::max<std::size_t>(d->slots.size() * 4, 16));
  d->d_slots.upload(d->slots);
  if (!d->weights.empty()) {
    d->d_weights = DeviceBuffer(d->weights.size() * 4);
    d->d_weights.upload(d->weights);
  }
  if (shape.step == MoeStep::combine) {
    d->d_out = DeviceBuffer(static_cast<std::size_t>(rows) * H * 2);
  } else {
    const int cols = shape.step == MoeStep::dispatch ? H : I;
    d->d_out = DeviceBuffer(static_cast<std::size_t>(d->num_rows) * cols);
    d->d_scales = DeviceBuffer(static_cast<std::size_t>(cols / 128) * d->stride * 4);
  }
  if (shape.step == MoeStep::swiglu)
    d->routing.row_to_token = d->d_slots.ptr();
  else
    d->routing.token_slot = d->d_slots.ptr();
  return d;
}

void run(const StepData& d, const MoeLaunch& l, CUstream s, Runtime& rt) {
  switch (d.shape.step) {
    case MoeStep::dispatch:
      moe_dispatch(d.config, l, d.tokens, d.d_in.ptr(), d.routing, {d.d_out.ptr(), d.d_scales.ptr(), d.stride}, s, rt);
      break;
    case MoeStep::swiglu:
      moe_swiglu(d.config, l, d.tokens, d.d_in.ptr(), d.routing, {d.d_out.ptr(), d.d_scales.ptr(), d.stride}, s, rt);
      break;
    case MoeStep::combine:
      moe_combine(d.config, l, d.tokens, d.d_in.ptr(), d.routing, d.d_weights.ptr(), d.d_out.ptr(), s, rt);
      break;
  }
}

// What the kernel wrote: the output bytes, then the scales' bytes.
std::vector<std::uint8_t> outputs(const StepData& d) {
  std::vector<std::uint8_t> v(d.d_out.bytes() + d.d_scales.bytes());
  d.d_out.download(v.data(), d.d_out.bytes());
  if (d.d_scales.bytes()) d.d_scales.download(v.data() + d.d_out.bytes(), d.d_scales.bytes());
  return v;
}

// The host reference check of one run's outputs; empty when right.
std::string reference_error(const StepData& d, const std::vector<std::uint8_t>& got) {
  const MoeConfig& c = d.config;
  const int H = c.hidden, I = c.intermediate, k = c.top_k;
  char buf[200];
  if (d.shape.step == MoeStep::dispatch) {
    std::vector<std::uint8_t> hq(static_cast<std::size_t>(d.tokens) * H);
    std::vector<float> hs(static_cast<std::size_t>(d.tokens) * H / 128);
    quantize_fp8_per_token_group_reference(d.in.data(), hq.data(), hs.data(), d.tokens, H, 128, ScaleLayout::row_major);
    std::vector<int> token_of(d.num_rows, -1);
    for (std::size_t i = 0; i < d.slots.size(); ++i)
      if (d.slots[i] >= 0) token_of[d.slots[i]] = static_cast<int>(i / k);
    const float* scales = reinterpret_cast<const float*>(got.data() + d.d_out.bytes());
    for (std::int64_t row = 0; row < d.num_rows; ++row) {
      const int t = token_of[row];
      const std::uint8_t* q = &got[static_cast<std::size_t>(row) * H];
      if (t < 0) {
        if (q[0] != 0xFF) return "row " + std::to_string(row) + " holds no entry but was written";
        continue;
      }
      if (std::memcmp(q, &hq[static_cast<std::size_t>(t) * H], H) != 0)
        return "FP8 row " + std::to_string(row) + " (token " + std::to_string(t) + ") differs from the reference";
      for (int g = 0; g < H / 128; ++g) {
        float s;
        std::memcpy(&s, scales + static_cast<std::size_t>(g) * d.stride + row, 4);
        if (s != hs[static_cast<std::size_t>(t) * (H / 128) + g])
          return "scale of row " + std::to_string(row) + " group " + std::to_string(g) + " differs from the reference";
      }
    }
    return {};
  }
  if (d.shape.step == MoeStep::swiglu) {
    const float* scales = reinterpret_cast<const float*>(got.data() + d.d_out.bytes());
    std::vector<double> ref, out;
    for (std::int64_t row = 0; row < d.num_rows; ++row) {
      const std::uint8_t* q = &got[static_cast<std::size_t>(row) * I];
      if (d.slots[row] < 0) {
        if (q[0] != 0xFF) return "skipped row " + std::to_string(row) + " was written";
        continue;
      }
      for (int g = 0; g < I / 128; ++g) {
        float s;
        std::memcpy(&s, scales + static_cast<std::size_t>(g) * d.stride + row, 4);
        double amax = 0;
        for (int i = g * 128; i < (g + 1) * 128; ++i) {
          const double gate = bf16_to_float(d.in[static_cast<std::size_t>(row) * 2 * I + i]);
          const double up = bf16_to_float(d.in[static_cast<std::size_t>(row) * 2 * I + I + i]);
          const double v = gate / (1 + std::exp(-gate)) * up;
          amax = std::max(amax, std::fabs(v));
          ref.push_back(v);
          out.push_back(static_cast<double>(e4m3_to_float(q[i])) * s);
        }
        const double want = std::max(amax, 1e-4) / 448.0;
        if (!(std::fabs(s - want) <= 1e-5 * want)) {
          std::snprintf(buf, sizeof buf, "scale %.6g of row %lld group %d, the float64 reference gives %.6g", s,
                        static_cast<long long>(row), g, want);
          return buf;
        }
      }
    }
    const double diff = calc_diff(ref, out);
    if (!(diff < kSwigluMaxDiff)) {
      std::snprintf(buf, sizeof buf, "diff %.3g against the float64 reference (bound %.0e)", diff, kSwigluMaxDiff);
      return buf;
    }
    return {};
  }
  for (int t = 0; t < d.tokens; ++t)
    for (int col = 0; col < H; ++col) {
      double acc = 0;
      for (int j = 0; j < k; ++j) {
        const int row = d.slots[static_cast<std::size_t>(t) * k + j];
        if (row >= 0)
          acc += static_cast<double>(d.weights[static_cast<std::size_t>(t) * k + j]) *
                 bf16_to_float(d.in[static_cast<std::size_t>(row) * H + col]);
      }
      std::uint16_t bits;
      std::memcpy(&bits, &got[(static_cast<std::size_t>(t) * H + col) * 2], 2);
      const double g = bf16_to_float(bits);
      // One BF16 rounding of an FP32 sum of k terms: 2^-8 relative, plus FP32 slack.
      if (!(std::fabs(g - acc) <= std::ldexp(std::fabs(acc), -8) + 1e-6)) {
        std::snprintf(buf, sizeof buf, "token %d column %d: %.6g, the float64 reference gives %.6g", t, col, g, acc);
        return buf;
      }
    }
  return {};
}

class MoeGpuMeasurer final : public detail::FamilyMeasurer {
 public:
  MoeGpuMeasurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer)
      : FamilyMeasurer("MoE", runtime, options, timer) {}

  std::string check(const Candidate& c) override {
    const MoeStepShape shape = shape_of(c);
    const std::unique_ptr<StepData> d = make_data(shape, std::min(kCheckRows, shape.rows), rng_, true);
    auto run_once = [&](const MoeLaunch& l) {
      d->d_out.fill_bytes(0xFF);
      if (d->d_scales.bytes()) d->d_scales.fill_bytes(0xFF);
      run(*d, l, nullptr, runtime_);
      SHAPEJIT_CU(driver().cuCtxSynchronize());
      return outputs(*d);
    };
    std::vector<std::uint8_t> got;
    try {
      got = run_once(launch_of(c));
    } catch (const Error& e) {
      return std::string("launch failed: ") + e.what();
    }
    const std::string wrong = reference_error(*d, got);
    if (!wrong.empty() || !launch_of(c).tiled) return wrong;
    // The same inputs through the proven kernel: a tiled shape computes the same bits.
    if (run_once(MoeLaunch{}) != got) return "output differs from the proven kernel's on the same inputs";
    return {};
  }

 private:
  static MoeStepShape shape_of(const Candidate& c) { return moe_step_shape(c.shape_json); }

  // The candidate ready to time on data shared per shape (one shape's at a time); values are
  // constant (the kernels' speed does not depend on them), the routing a random scatter.
  TimedLaunch prepare(const Candidate& c) override {
    const MoeStepShape shape = shape_of(c);
    const std::string key = c.op + c.shape_json;
    if (!data_.count(key)) {
      data_.clear();
      data_[key] = make_data(shape, shape.rows, rng_, false);
    }
    const StepData* d = data_[key].get();
    Runtime* rt = &runtime_;
    return timer_.prepare([d, rt, l = launch_of(c)](CUstream s) { run(*d, l, s, *rt); },
                          options_.cuda_graph && shape.rows <= kGraphMaxRows);
  }

  std::map<std::string, std::unique_ptr<StepData>> data_;
};

}  // namespace

std::unique_ptr<Measurer> detail::make_moe_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options,
                                                        GpuTimer& timer) {
  return std::make_unique<MoeGpuMeasurer>(runtime, options, timer);
}

}  // namespace shapejit::runtime::tuning
