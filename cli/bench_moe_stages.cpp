#include "bench_moe_stages.hpp"

#include <algorithm>

#include "shapejit/error.hpp"
#include "shapejit/runtime/host_numerics.hpp"

namespace shapejit::cli {

using namespace shapejit::runtime;

std::vector<int> moe_bench_routing(int T, int top_k, int num_experts, bool zipf, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<double> w(num_experts);
  for (int e = 0; e < num_experts; ++e) w[e] = zipf ? 1.0 / std::pow(e + 1.0, 1.2) : 1.0;
  std::vector<int> out(static_cast<std::size_t>(T) * top_k);
  for (int t = 0; t < T; ++t) {
    std::vector<double> left = w;
    for (int j = 0; j < top_k; ++j) {
      std::discrete_distribution<int> pick(left.begin(), left.end());
      const int e = pick(rng);
      left[e] = 0;
      out[static_cast<std::size_t>(t) * top_k + j] = e;
    }
  }
  return out;
}

std::vector<std::uint8_t> random_fp8_bytes(std::size_t n, std::mt19937& rng) {
  // A 1 MiB random tile, repeated: generating gigabytes of weights byte by byte takes seconds.
  std::vector<std::uint8_t> tile(std::min<std::size_t>(n, std::size_t{1} << 20));
  std::uniform_int_distribution<int> d(0x20, 0x50);
  for (auto& b : tile) b = static_cast<std::uint8_t>(d(rng) | (rng() & 0x80));
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; i += tile.size())
    std::copy_n(tile.begin(), std::min(tile.size(), n - i), v.begin() + static_cast<std::ptrdiff_t>(i));
  return v;
}

std::vector<std::uint16_t> random_bf16(std::size_t n, std::mt19937& rng) {
  std::vector<std::uint16_t> tile(std::min<std::size_t>(n, 65536));
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto& v : tile) v = float_to_bf16(nd(rng));
  std::vector<std::uint16_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = tile[i % tile.size()];
  return out;
}

MoeBenchWeights::MoeBenchWeights(const MoeConfig& c, std::mt19937& rng)
    : w13(static_cast<std::size_t>(c.num_experts) * 2 * c.intermediate * c.hidden),
      w2(static_cast<std::size_t>(c.num_experts) * c.hidden * c.intermediate),
      w13s(static_cast<std::size_t>(c.num_experts) * (2 * c.intermediate / 128) * (c.hidden / 128) * 4),
      w2s(static_cast<std::size_t>(c.num_experts) * (c.hidden / 128) * (c.intermediate / 128) * 4) {
  w13.upload(random_fp8_bytes(w13.bytes(), rng));
  w2.upload(random_fp8_bytes(w2.bytes(), rng));
  w13s.upload(std::vector<float>(w13s.bytes() / 4, 1e-3f));
  w2s.upload(std::vector<float>(w2s.bytes() / 4, 1e-3f));
}

MoeStageTimes time_moe_stages(BenchTimer& timer, const MoeConfig& c, const MoeWeights& weights,
                              int T, const std::vector<int>& topk, int iters, bool all_stages,
                              std::mt19937& rng) {
  const int H = c.hidden, k = c.top_k, E = c.num_experts;
  auto time_ms = [&timer, iters](auto&& f) { return timer.median_ms(f, iters); };
  const std::vector<std::uint16_t> x = random_bf16(static_cast<std::size_t>(T) * H, rng);
  const std::vector<float> tw(static_cast<std::size_t>(T) * k, 1.0f / k);
  DeviceBuffer dx(x.size() * 2), didx(topk.size() * 4), dtw(tw.size() * 4), out(x.size() * 2);
  dx.upload(x);
  didx.upload(topk);
  dtw.upload(tw);
  MoeWorkspace ws(c, T);
  const MoeRouting r = ws.routing();
  const MoeFp8Rows xq = ws.xq(T), aq = ws.aq(T);

  MoeStageTimes s;
  s.padded_rows = moe_route_reference(c, T, topk).row_begin[E];
  if (all_stages) {
    s.route_ms = time_ms([&] { moe_route(c, T, didx.ptr(), r); });
    s.dispatch_ms = time_ms([&] { moe_dispatch(c, T, dx.ptr(), r, xq); });
  } else {
    moe_route(c, T, didx.ptr(), r);
    moe_dispatch(c, T, dx.ptr(), r, xq);
  }
  try {
    s.gate_up_ms = time_ms([&] { moe_gate_up(c, T, xq, weights, r, ws.h()); });
    s.swiglu_ms = time_ms([&] { moe_swiglu(c, T, ws.h(), r, aq); });
    s.down_ms = time_ms([&] { moe_down(c, T, aq, weights, r, ws.y()); });
  } catch (const Error& e) {
    if (e.code() != Errc::unsupported || !all_stages) throw;
    s.gate_up_ms = s.down_ms = NAN;
    s.gemm_note = e.what();
  }
  if (std::isnan(s.swiglu_ms)) s.swiglu_ms = time_ms([&] { moe_swiglu(c, T, ws.h(), r, aq); });
  if (all_stages)
    s.combine_ms = time_ms([&] { moe_combine(c, T, ws.y(), r, dtw.ptr(), out.ptr()); });
  return s;
}

}  // namespace shapejit::cli
