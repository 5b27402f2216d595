// The end-to-end EP check of one rank (see ep_world_check.hpp).
#include "ep_world_check.hpp"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "ep_exchange_reference.hpp"
#include "shapejit/comm/ep_exchange.hpp"
#include "shapejit/comm/ep_layout.hpp"
#include "shapejit/comm/ep_low_latency.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/stream.hpp"

namespace shapejit::test {
namespace {

using runtime::DeviceBuffer;

float bf16_round(float v) { return runtime::bf16_to_float(runtime::float_to_bf16(v)); }

template <typename T>
DeviceBuffer to_device(const std::vector<T>& v) {
  DeviceBuffer b(std::max<std::size_t>(v.size() * sizeof(T), 16));
  if (!v.empty()) b.upload(v);
  return b;
}

std::vector<std::uint16_t> rank_input(unsigned seed, int rank, int tokens, int hidden) {
  std::mt19937 rng(seed * 7919u + rank);
  std::normal_distribution<float> n01;
  std::vector<std::uint16_t> x(std::size_t(tokens) * hidden);
  for (auto& v : x) v = runtime::float_to_bf16(n01(rng));
  return x;
}

}  // namespace

bool run_ep_world_check(comm::EpGroup& group, const EpCheckOptions& o, EpCheckResult& res) {
  const int R = group.size(), me = group.rank();
  std::mt19937 rng(o.seed);
  EpWorld w = random_world(rng, R, R * o.experts_per_rank_base, o.top_k, o.max_tokens, o.skew, o.extra_slots, 0.05);
  const int K = o.top_k, H = o.hidden, L = w.placement.experts_per_rank, G = H / 128;
  std::vector<std::vector<std::uint16_t>> x(R);
  for (int s = 0; s < R; ++s) x[s] = rank_input(o.seed, s, w.tokens[s], H);
  if (o.input != "bf16" && o.input != "fp8" && o.input != "fp8-m-major")
    fail(Errc::invalid_argument, "ep world check: input '" + o.input + "' is not bf16, fp8 or fp8-m-major");
  const bool fp8 = o.input != "bf16";
  std::mt19937 fp8_rng(o.seed * 31u + 5u);
  const EpFp8Tokens x8 = fp8 ? random_fp8_tokens(fp8_rng, w, H, o.input == "fp8-m-major", 4) : EpFp8Tokens{};
  std::vector<int> my_idx = w.topk_idx[me];
  if (o.fail == "bad-id" && me == o.fail_rank && !my_idx.empty()) my_idx[0] = w.placement.num_experts;

  comm::EpExchangeConfig cfg;
  cfg.hidden = (o.fail == "hidden" && me == o.fail_rank) ? H + 512 : H;
  cfg.intermediate = 512;
  cfg.top_k = K;
  cfg.max_tokens = o.max_tokens;
  cfg.mode = o.mode;
  cfg.align_m = 128;
  cfg.capacity = o.capacity;
  comm::EpExchange ex(group, w.placement, cfg);

  const int T = w.tokens[me];
  DeviceBuffer dx = fp8 ? to_device(x8.data[me]) : to_device(x[me]), didx = to_device(my_idx),
               dw = to_device(w.topk_weights[me]);
  DeviceBuffer dscales = to_device(fp8 ? x8.scales[me] : std::vector<float>{});
  runtime::EpTokens tokens{.data = dx.ptr()};
  if (fp8) {
    tokens = {.dtype = runtime::DType::e4m3, .data = dx.ptr(), .scales = dscales.ptr(),
              .scale_layout = x8.m_major ? runtime::ScaleLayout::m_major : runtime::ScaleLayout::row_major,
              .scale_stride = x8.m_major ? x8.stride[me] : 0};
  }
  runtime::Stream stream;
  const bool ll = o.mode == comm::EpMode::low_latency;
  if (ll) ex.dispatch_low_latency(T, tokens, didx.ptr(), dw.ptr(), stream.get());
  else ex.dispatch(T, tokens, didx.ptr(), dw.ptr(), stream.get());
  SHAPEJIT_CU(runtime::driver().cuStreamSynchronize(stream.get()));

  // Host plans of the whole world.
  std::vector<comm::EpSendPlan> send;
  for (int s = 0; s < R; ++s) send.push_back(comm::ep_send_plan(w.placement, s, {w.tokens[s], K, w.topk_idx[s], w.topk_weights[s]}));
  std::vector<int> row_src, row_token;   // receive row → (source, token)
  if (ll) {
    for (int s = 0; s < R; ++s)
      for (int i = 0; i < o.max_tokens; ++i) {
        const int row = send[s].send_offset[me] + i;
        const bool used = row < send[s].send_offset[me + 1];
        row_src.push_back(used ? s : -1);
        row_token.push_back(used ? send[s].send_token[row] : -1);
      }
  } else {
    for (int s = 0; s < R; ++s)
      for (int row = send[s].send_offset[me]; row < send[s].send_offset[me + 1]; ++row) {
        row_src.push_back(s);
        row_token.push_back(send[s].send_token[row]);
      }
  }
  std::vector<int> gemm_to_recv, m_index;   // expected per GEMM row
  int num_rows = 0;
  long long overflow_expected = 0;
  if (ll) {
    const auto info = comm::ep_low_latency_recv_expert(send, me, o.max_tokens);
    const auto plan = comm::ep_low_latency_plan(me, R, L, K, o.max_tokens, o.capacity, info);
    gemm_to_recv = plan.row_to_recv;
    num_rows = L * o.capacity;
    m_index.assign(num_rows, -1);
    for (int r = 0; r < num_rows; ++r) if (gemm_to_recv[r] >= 0) m_index[r] = r / o.capacity;
    overflow_expected = plan.total_overflow();
  } else {
    std::vector<int> info;
    for (int s = 0; s < R; ++s)
      for (int row = send[s].send_offset[me]; row < send[s].send_offset[me + 1]; ++row)
        info.insert(info.end(), send[s].send_expert.begin() + std::size_t(row) * K,
                    send[s].send_expert.begin() + std::size_t(row + 1) * K);
    const auto plan = comm::ep_recv_plan(me, R, L, K, 128, comm::ep_counts_for(send, me), info);
    gemm_to_recv = plan.row_to_recv;
    m_index = plan.m_indices;
    num_rows = plan.num_rows();
    if (ex.received_rows() != plan.total_recv()) {
      res.report = "received " + std::to_string(ex.received_rows()) + " rows, expected " + std::to_string(plan.total_recv());
      return false;
    }
  }

  // Every received row: FP8 bytes and scales equal the host quantization of the source token
  // (BF16 tokens) or, bit for bit, the source's given FP8 row and scales (FP8 tokens).
  const runtime::MoeFp8Rows xq = ex.workspace().xq(ex.received_rows());
  const auto routing = ex.workspace().routing();
  std::vector<std::uint8_t> q(std::size_t(num_rows) * H);
  std::vector<float> sc(std::size_t(G) * xq.scale_stride);
  std::vector<int> row_to_token(num_rows);
  SHAPEJIT_CU(runtime::driver().cuMemcpyDtoH(q.data(), xq.data, q.size()));
  SHAPEJIT_CU(runtime::driver().cuMemcpyDtoH(sc.data(), xq.scales, sc.size() * 4));
  SHAPEJIT_CU(runtime::driver().cuMemcpyDtoH(row_to_token.data(), routing.row_to_token, num_rows * 4));
  std::vector<std::uint8_t> ref_q(H);
  std::vector<float> ref_s(G);
  for (int r = 0; r < num_rows; ++r) {
    if (row_to_token[r] != gemm_to_recv[r]) {
      res.report = "GEMM row " + std::to_string(r) + " holds receive row " + std::to_string(row_to_token[r]) +
                   ", expected " + std::to_string(gemm_to_recv[r]);
      return false;
    }
    if (gemm_to_recv[r] < 0) continue;
    const int i = gemm_to_recv[r], s = row_src[i], t = row_token[i];
    if (fp8) {
      std::memcpy(ref_q.data(), x8.data[s].data() + std::size_t(t) * H, H);
      for (int g = 0; g < G; ++g) ref_s[g] = x8.scale(s, t, g);
    } else {
      runtime::quantize_fp8_per_token_group_reference(x[s].data() + std::size_t(t) * H, ref_q.data(), ref_s.data(), 1,
                                                      H, 128, runtime::ScaleLayout::row_major);
    }
    if (std::memcmp(ref_q.data(), q.data() + std::size_t(r) * H, H) != 0) {
      res.report = "GEMM row " + std::to_string(r) + " (rank " + std::to_string(s) + " token " + std::to_string(t) +
                   ") has other FP8 bytes than the source's " + (fp8 ? "given row" : "quantization");
      return false;
    }
    for (int g = 0; g < G; ++g)
      if (sc[std::size_t(g) * xq.scale_stride + r] != ref_s[g]) {
        res.report = "GEMM row " + std::to_string(r) + " scale " + std::to_string(g) + " differs";
        return false;
      }
    ++res.rows_checked;
  }

  // Expert outputs: each GEMM row gets the model's output of its (expert, source, token), BF16.
  std::vector<std::uint16_t> y(std::size_t(std::max(num_rows, 1)) * H, 0x7fc0);   // NaN poison in unused rows
  for (int r = 0; r < num_rows; ++r) {
    if (gemm_to_recv[r] < 0) continue;
    const int i = gemm_to_recv[r], s = row_src[i], t = row_token[i];
    // The expert of this row: the entry of token t that chose a slot on this rank's local expert.
    int e = -1;
    for (int j = 0; j < K; ++j) {
      const int slot = send[s].slot[std::size_t(t) * K + j];
      if (slot >= 0 && slot / L == me && slot % L == m_index[r]) e = w.topk_idx[s][std::size_t(t) * K + j];
    }
    for (int c = 0; c < H; ++c) y[std::size_t(r) * H + c] = runtime::float_to_bf16(reference_expert_output(e, s, t, c));
  }
  DeviceBuffer dy = to_device(y), dout(std::size_t(std::max(T, 1)) * H * 2);
  dout.fill_bytes(0xff);
  if (ll) ex.combine_low_latency(dy.ptr(), dout.ptr(), stream.get());
  else ex.combine(dy.ptr(), dout.ptr(), stream.get());
  SHAPEJIT_CU(runtime::driver().cuStreamSynchronize(stream.get()));
  const auto out = dout.download<std::uint16_t>(std::size_t(T) * H);

  // The model with BF16 expert outputs and BF16 partials; in low-latency mode only entries
  // kept under the capacity count, so compare only when nothing overflowed anywhere.
  const auto want = reference_combine(w, H, bf16_round);
  if (ll) {
    const auto counters = ex.take_counters();
    res.overflow = counters.overflow;
    if (counters.overflow != overflow_expected) {
      res.report = "overflow " + std::to_string(counters.overflow) + ", expected " + std::to_string(overflow_expected);
      return false;
    }
  }
  bool any_overflow = false;
  if (ll) {
    for (int d = 0; d < R && !any_overflow; ++d) {
      const auto info = comm::ep_low_latency_recv_expert(send, d, o.max_tokens);
      any_overflow = comm::ep_low_latency_plan(d, R, L, K, o.max_tokens, o.capacity, info).total_overflow() > 0;
    }
  }
  if (!any_overflow) {
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < H; ++c) {
        const float got = runtime::bf16_to_float(out[std::size_t(t) * H + c]);
        const float ref = want[me][std::size_t(t) * H + c];
        // NOTES: three BF16 roundings (expert output, partial, result; 2^-9 relative each) and
        // FMA-versus-separate rounding in FP32: 2^-6 relative to the magnitude is a safe bound.
        const double err = std::fabs(double(got) - ref);
        res.max_abs_err = std::max(res.max_abs_err, err);
        if (!(err <= 0.016 * std::max(1.0, std::fabs(double(ref))))) {
          res.report = "output of token " + std::to_string(t) + " column " + std::to_string(c) + " is " +
                       std::to_string(got) + ", expected " + std::to_string(ref);
          return false;
        }
        ++res.outputs_checked;
      }
  }
  std::ostringstream rep;
  rep << "rank " << me << "/" << R << (ll ? " low-latency" : " normal") << ", " << o.input << " tokens: " << res.rows_checked
      << " received rows and " << res.outputs_checked << " outputs match; max |err| " << res.max_abs_err
      << (ll ? "; overflow " + std::to_string(res.overflow) : "");
  res.report = rep.str();
  return true;
}

}  // namespace shapejit::test
