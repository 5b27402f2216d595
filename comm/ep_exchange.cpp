// Dispatch and combine over NCCL (see ep_exchange.hpp).
#include "shapejit/comm/ep_exchange.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "shapejit/comm/ep_recv_capacity.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/ep.hpp"
#include "shapejit/runtime/stream.hpp"

namespace shapejit::comm {
namespace {

using runtime::DeviceBuffer;

[[noreturn]] void bad(const std::string& what) { fail(Errc::invalid_argument, "EpExchange: " + what); }

CUdeviceptr at(const DeviceBuffer& b, std::size_t byte_offset) { return b.ptr() + byte_offset; }

DeviceBuffer ints(std::size_t n) { return DeviceBuffer(std::max<std::size_t>(n, 1) * 4); }

}  // namespace

struct EpExchange::Impl {
  EpGroup& group;
  EpPlacement placement;
  EpExchangeConfig config;
  runtime::Runtime& rt;
  runtime::EpKernelConfig kc;
  runtime::MoeConfig expert_cfg;   // receive side
  runtime::MoeConfig source_cfg;   // the source's final reduction (only hidden and top_k matter)
  int R, L, K, H, G;               // ranks, local experts, top-k, hidden, scale groups
  int send_rows_max, recv_rows_max;   // most rows one call can send / receive
  int recv_reserved = 0, returned_reserved = 0;   // rows the receive side holds now (grow-only)
  runtime::Stream stream;
  runtime::Event ready, done;
  // Placement and layout.
  DeviceBuffer log2phy, logcnt;
  DeviceBuffer slot, token_dest, token_pos, block_counts, block_expert_counts, block_offset, send_offset,
      counts, recv_counts, token_rows, bad_ids, overflow;
  // Wire buffers.
  DeviceBuffer send_fp8, send_scales, send_expert, send_weight;
  DeviceBuffer recv_fp8, recv_scales, recv_expert, recv_weight;
  DeviceBuffer partial, returned, ones;
  std::unique_ptr<runtime::MoeWorkspace> ws;
  // Host view of the last normal-mode dispatch.
  std::vector<int> h_send_offset, h_recv_offset;
  int num_tokens = 0, received = 0;

  Impl(EpGroup& g, const EpPlacement& p, const EpExchangeConfig& c, runtime::Runtime& r)
      : group(g), placement(p), config(c), rt(r) {}

  const NcclApi& api() const { return nccl(); }
  ncclComm_t comm() const { return group.comm(); }

  void exchange_rows(std::span<const int> send_off, std::span<const int> recv_off, bool back_to_source);
  // Both modes' first steps on stream s: the dispatch layout (replica choice, counts, offsets,
  // bad ids) and the FP8 rows to send.
  void layout_and_pack(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
                       CUstream s);
  void check_call(int num_tokens, const runtime::EpTokens& x) const;
  void check_header();
  // Receive side for `rows` receive rows (wire buffers, partials, workspace) and the returned
  // partials for `send_rows` rows: grown, never shrunk (ep_recv_capacity.hpp).
  void reserve(int rows, int send_rows);
};

void EpExchange::Impl::reserve(int rows, int send_rows) {
  const int r = ep_recv_rows_to_reserve(recv_reserved, rows, recv_rows_max);
  if (r > recv_reserved) {
    recv_fp8 = DeviceBuffer(std::size_t(r) * H);
    recv_scales = DeviceBuffer(std::size_t(r) * G * 4);
    recv_expert = ints(std::size_t(r) * K);
    recv_weight = ints(std::size_t(r) * K);
    partial = DeviceBuffer(std::size_t(r) * H * 2);
    ws = std::make_unique<runtime::MoeWorkspace>(expert_cfg, r);
    recv_reserved = r;
  }
  const int sr = ep_recv_rows_to_reserve(returned_reserved, send_rows, send_rows_max);
  if (sr > returned_reserved) {
    returned = DeviceBuffer(std::size_t(std::max(sr, 1)) * H * 2);
    returned_reserved = sr;
  }
}

EpExchange::EpExchange(EpGroup& group, const EpPlacement& placement, const EpExchangeConfig& config,
                       runtime::Runtime& rt)
    : impl_(std::make_unique<Impl>(group, placement, config, rt)) {
  Impl& m = *impl_;
  placement.validate();
  if (placement.num_ranks != group.size())
    bad("the placement is for " + std::to_string(placement.num_ranks) + " ranks, the group has " +
        std::to_string(group.size()));
  const bool ll = config.mode == EpMode::low_latency;
  if (config.max_tokens < 1) bad("max_tokens = " + std::to_string(config.max_tokens) + " must be >= 1");
  m.R = placement.num_ranks; m.L = placement.experts_per_rank; m.K = config.top_k;
  m.H = config.hidden; m.G = config.hidden / 128;
  int max_replicas = 1;
  for (int c : placement.logcnt) max_replicas = std::max(max_replicas, c);
  m.kc = {m.R, m.L, placement.num_experts, max_replicas, m.K, m.H, ll, config.max_tokens};
  runtime::validate(m.kc);
  m.expert_cfg.hidden = m.H;
  m.expert_cfg.intermediate = config.intermediate;
  m.expert_cfg.num_experts = m.L;
  m.expert_cfg.top_k = m.K;
  m.expert_cfg.expert_begin = 0;
  if (ll) {
    m.expert_cfg.layout = runtime::MoeLayout::masked;
    m.expert_cfg.max_tokens_per_expert = config.capacity;
  } else {
    m.expert_cfg.layout = runtime::MoeLayout::contiguous;
    m.expert_cfg.align_m = config.align_m;
  }
  runtime::validate(m.expert_cfg);
  m.source_cfg = m.expert_cfg;
  m.source_cfg.layout = runtime::MoeLayout::contiguous;
  m.source_cfg.align_m = 128;

  const long long T = config.max_tokens;
  m.send_rows_max = static_cast<int>(ll ? m.R * T : T * std::min(m.K, m.R));
  m.recv_rows_max = static_cast<int>(m.R * T);
  const int blocks = runtime::ep_layout_blocks(config.max_tokens);

  std::vector<int> table(std::size_t(placement.num_experts) * max_replicas, -1);
  for (int e = 0; e < placement.num_experts; ++e)
    for (int r = 0; r < placement.logcnt[e]; ++r) table[std::size_t(e) * max_replicas + r] = placement.log2phy[e][r];
  m.log2phy = ints(table.size());
  m.log2phy.upload(table);
  m.logcnt = ints(placement.logcnt.size());
  m.logcnt.upload(placement.logcnt);

  m.slot = ints(T * m.K); m.token_dest = ints(T * m.K); m.token_pos = ints(T * m.K);
  m.block_counts = ints(std::size_t(blocks) * m.R);
  m.block_expert_counts = ints(std::size_t(blocks) * m.R * m.L);
  m.block_offset = ints(std::size_t(blocks) * m.R);
  m.send_offset = ints(m.R + 1);
  m.counts = ints(std::size_t(m.R) * (2 + m.L));
  m.recv_counts = ints(std::size_t(m.R) * (2 + m.L));
  m.token_rows = ints(T * m.K);
  m.bad_ids = ints(1);
  m.overflow = ints(m.L + 1);
  m.send_fp8 = DeviceBuffer(std::size_t(m.send_rows_max) * m.H);
  m.send_scales = DeviceBuffer(std::size_t(m.send_rows_max) * m.G * 4);
  m.send_expert = ints(std::size_t(m.send_rows_max) * m.K);
  m.send_weight = ints(std::size_t(m.send_rows_max) * m.K);
  // Low-latency: the fixed receive block, once. Normal: max_tokens rows to start with; each
  // dispatch grows them to what its count exchange says arrives.
  if (ll) m.reserve(m.recv_rows_max, m.send_rows_max);
  else m.reserve(std::min<int>(T, m.recv_rows_max), std::min<int>(T, m.send_rows_max));
  m.ones = ints(T * m.K);
  m.ones.upload(std::vector<float>(std::size_t(T) * m.K, 1.0f));
  const auto& drv = runtime::driver();
  SHAPEJIT_CU(drv.cuMemsetD32Async(m.bad_ids.ptr(), 0, 1, m.stream.get()));
  SHAPEJIT_CU(drv.cuMemsetD32Async(m.overflow.ptr(), 0, m.L + 1, m.stream.get()));
  // Receive rows that a low-latency step leaves unused must read as "no expert".
  if (ll)
    SHAPEJIT_CU(drv.cuMemsetD32Async(m.recv_expert.ptr(), 0xffffffffu, std::size_t(m.recv_rows_max) * m.K,
                                     m.stream.get()));
  m.check_header();
}

EpExchange::~EpExchange() = default;

void EpExchange::Impl::check_header() {
  EpHeader h;
  h.rank = group.rank(); h.num_ranks = group.size();
  h.hidden = H; h.top_k = K; h.num_experts = placement.num_experts; h.experts_per_rank = L;
  h.max_tokens = config.max_tokens; h.mode = static_cast<int>(config.mode);
  h.align_m = config.mode == EpMode::normal ? config.align_m : 0;
  h.capacity = config.mode == EpMode::low_latency ? config.capacity : 0;
  h.placement = placement.fingerprint();
  DeviceBuffer mine(sizeof h), all(sizeof h * R);
  mine.upload(&h, sizeof h);
  SHAPEJIT_NCCL(api().ncclAllGather(reinterpret_cast<void*>(mine.ptr()), reinterpret_cast<void*>(all.ptr()),
                                    sizeof h, ncclUint8, comm(), stream.get()), comm());
  group.synchronize(stream.get(), "EP header exchange");
  std::vector<EpHeader> headers(R);
  all.download(headers.data(), sizeof h * R);
  check_headers(headers);
}

const runtime::MoeConfig& EpExchange::expert_config() const { return impl_->expert_cfg; }
runtime::MoeWorkspace& EpExchange::workspace() { return *impl_->ws; }
CUstream EpExchange::comm_stream() const { return impl_->stream.get(); }
int EpExchange::received_rows() const { return impl_->received; }

// One grouped send/recv of every row array between this rank and each peer. Dispatch moves
// send rows (FP8, scales, routing info) to receive rows; combine moves partial rows back.
void EpExchange::Impl::exchange_rows(std::span<const int> send_off, std::span<const int> recv_off,
                                     bool back_to_source) {
  const NcclApi& a = api();
  CUstream s = stream.get();
  auto ptr = [](const DeviceBuffer& b, std::size_t off) { return reinterpret_cast<void*>(at(b, off)); };
  SHAPEJIT_NCCL(a.ncclGroupStart(), comm());
  for (int p = 0; p < R; ++p) {
    const std::size_t so = send_off[p], sn = send_off[p + 1] - send_off[p];
    const std::size_t ro = recv_off[p], rn = recv_off[p + 1] - recv_off[p];
    if (back_to_source) {
      // Partials of the rows p sent here go back to p; p's partials of our rows come back.
      if (sn) SHAPEJIT_NCCL(a.ncclSend(ptr(partial, so * H * 2), sn * H, ncclBfloat16, p, comm(), s), comm());
      if (rn) SHAPEJIT_NCCL(a.ncclRecv(ptr(returned, ro * H * 2), rn * H, ncclBfloat16, p, comm(), s), comm());
      continue;
    }
    if (sn) {
      SHAPEJIT_NCCL(a.ncclSend(ptr(send_fp8, so * H), sn * H, ncclUint8, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclSend(ptr(send_scales, so * G * 4), sn * G, ncclFloat32, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclSend(ptr(send_expert, so * K * 4), sn * K, ncclInt32, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclSend(ptr(send_weight, so * K * 4), sn * K, ncclFloat32, p, comm(), s), comm());
    }
    if (rn) {
      SHAPEJIT_NCCL(a.ncclRecv(ptr(recv_fp8, ro * H), rn * H, ncclUint8, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclRecv(ptr(recv_scales, ro * G * 4), rn * G, ncclFloat32, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclRecv(ptr(recv_expert, ro * K * 4), rn * K, ncclInt32, p, comm(), s), comm());
      SHAPEJIT_NCCL(a.ncclRecv(ptr(recv_weight, ro * K * 4), rn * K, ncclFloat32, p, comm(), s), comm());
    }
  }
  SHAPEJIT_NCCL(a.ncclGroupEnd(), comm());
  // A non-blocking communicator takes no further call while the group is still being enqueued.
  group.wait_ready(back_to_source ? "EP combine exchange" : "EP dispatch exchange");
}

void EpExchange::Impl::check_call(int num_tokens, const runtime::EpTokens& x) const {
  if (num_tokens < 0 || num_tokens > config.max_tokens)
    bad("num_tokens = " + std::to_string(num_tokens) + " outside [0, max_tokens = " +
        std::to_string(config.max_tokens) + "]");
  runtime::validate(kc, num_tokens, x);
}

void EpExchange::Impl::layout_and_pack(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx,
                                       CUdeviceptr topk_weights, CUstream s) {
  runtime::EpDispatchLayout l{slot.ptr(),        token_dest.ptr(),  token_pos.ptr(),   block_counts.ptr(),
                              block_expert_counts.ptr(), block_offset.ptr(), send_offset.ptr(), counts.ptr(),
                              token_rows.ptr(),  send_expert.ptr(), send_weight.ptr(), bad_ids.ptr()};
  runtime::ep_dispatch_layout(kc, num_tokens, group.rank(), topk_idx, topk_weights, log2phy.ptr(), logcnt.ptr(), l,
                              s, rt);
  runtime::ep_pack_tokens(kc, num_tokens, x, token_rows.ptr(), send_fp8.ptr(), send_scales.ptr(), s, rt);
}

int EpExchange::dispatch(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
                         CUstream caller) {
  return dispatch(num_tokens, runtime::EpTokens{.data = x}, topk_idx, topk_weights, caller);
}

int EpExchange::dispatch(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx, CUdeviceptr topk_weights,
                         CUstream caller) {
  Impl& m = *impl_;
  if (m.config.mode != EpMode::normal) bad("dispatch() is normal mode; this exchange is low-latency");
  m.check_call(num_tokens, x);
  const auto& drv = runtime::driver();
  CUstream s = m.stream.get();
  m.ready.record(caller);
  m.ready.wait_in(s);
  SHAPEJIT_CU(drv.cuMemsetD32Async(m.bad_ids.ptr(), 0, 1, s));
  m.layout_and_pack(num_tokens, x, topk_idx, topk_weights, s);

  // Count exchange: row p of `counts` goes to p, p's row for us lands in recv_counts[p].
  const int row = 2 + m.L;
  const NcclApi& a = m.api();
  SHAPEJIT_NCCL(a.ncclGroupStart(), m.comm());
  for (int p = 0; p < m.R; ++p) {
    SHAPEJIT_NCCL(a.ncclSend(reinterpret_cast<void*>(at(m.counts, std::size_t(p) * row * 4)), row, ncclInt32, p,
                             m.comm(), s), m.comm());
    SHAPEJIT_NCCL(a.ncclRecv(reinterpret_cast<void*>(at(m.recv_counts, std::size_t(p) * row * 4)), row, ncclInt32,
                             p, m.comm(), s), m.comm());
  }
  SHAPEJIT_NCCL(a.ncclGroupEnd(), m.comm());
  m.group.synchronize(s, "EP count exchange");   // waits for the enqueue, then the stream
  const auto recv_counts = m.recv_counts.download<int>(std::size_t(m.R) * row);
  m.h_send_offset = m.send_offset.download<int>(m.R + 1);
  for (int p = 0; p < m.R; ++p)
    if (int n = recv_counts[std::size_t(p) * row + 1]; n > 0)
      fail(Errc::invalid_argument, "EP dispatch: rank " + std::to_string(p) + " routed " + std::to_string(n) +
                                       " top-k ids outside [-1, " + std::to_string(m.placement.num_experts) +
                                       ") (reported on every rank; nothing was exchanged)");
  m.h_recv_offset.assign(m.R + 1, 0);
  for (int p = 0; p < m.R; ++p) m.h_recv_offset[p + 1] = m.h_recv_offset[p] + recv_counts[std::size_t(p) * row];
  m.num_tokens = num_tokens;
  m.received = m.h_recv_offset[m.R];
  // The stream is idle here (synchronized above, after the caller's prior work), so buffers
  // that grow are not in use.
  m.reserve(m.received, m.h_send_offset[m.R]);

  m.exchange_rows(m.h_send_offset, m.h_recv_offset, false);
  const runtime::MoeRouting routing = m.ws->routing();
  runtime::moe_route(m.expert_cfg, m.received, m.recv_expert.ptr(), routing, s, m.rt);
  // With nothing received the routing writes no rows and the GEMMs and combine skip, so there
  // is nothing to permute either.
  if (m.received > 0) {
    const runtime::MoeFp8Rows xq = m.ws->xq(m.received);
    runtime::ep_recv_permute(m.kc, static_cast<int>(runtime::moe_num_rows(m.expert_cfg, m.received)),
                             m.recv_fp8.ptr(), m.recv_scales.ptr(), routing.row_to_token, xq.data, xq.scales,
                             xq.scale_stride, s, m.rt);
  }
  m.done.record(s);
  m.done.wait_in(caller);
  return m.received;
}

void EpExchange::combine(CUdeviceptr y, CUdeviceptr out, CUstream caller) {
  Impl& m = *impl_;
  if (m.config.mode != EpMode::normal) bad("combine() is normal mode; this exchange is low-latency");
  if (m.h_recv_offset.empty()) bad("combine() before dispatch()");
  CUstream s = m.stream.get();
  m.ready.record(caller);
  m.ready.wait_in(s);
  runtime::moe_combine(m.expert_cfg, m.received, y, m.ws->routing(), m.recv_weight.ptr(), m.partial.ptr(), s, m.rt);
  // Back along the dispatch: we send the partials of our receive rows, receive into send order.
  m.exchange_rows(m.h_recv_offset, m.h_send_offset, true);
  runtime::MoeRouting source{};
  source.token_slot = m.token_rows.ptr();
  runtime::moe_combine(m.source_cfg, m.num_tokens, m.returned.ptr(), source, m.ones.ptr(), out, s, m.rt);
  m.done.record(s);
  m.done.wait_in(caller);
}

void EpExchange::dispatch_low_latency(int num_tokens, CUdeviceptr x, CUdeviceptr topk_idx,
                                      CUdeviceptr topk_weights, CUstream caller) {
  dispatch_low_latency(num_tokens, runtime::EpTokens{.data = x}, topk_idx, topk_weights, caller);
}

void EpExchange::dispatch_low_latency(int num_tokens, const runtime::EpTokens& x, CUdeviceptr topk_idx,
                                      CUdeviceptr topk_weights, CUstream caller) {
  Impl& m = *impl_;
  if (m.config.mode != EpMode::low_latency) bad("dispatch_low_latency() on a normal-mode exchange");
  m.check_call(num_tokens, x);
  CUstream s = m.stream.get();
  m.ready.record(caller);
  m.ready.wait_in(s);
  m.layout_and_pack(num_tokens, x, topk_idx, topk_weights, s);
  // Fixed blocks: max_tokens rows to and from every peer, known without a count exchange.
  std::vector<int> fixed(m.R + 1);
  for (int p = 0; p <= m.R; ++p) fixed[p] = p * m.config.max_tokens;
  m.exchange_rows(fixed, fixed, false);
  m.num_tokens = num_tokens;
  m.received = m.recv_rows_max;
  const runtime::MoeRouting routing = m.ws->routing();
  runtime::moe_route(m.expert_cfg, m.received, m.recv_expert.ptr(), routing, s, m.rt);
  runtime::ep_count_overflow(m.kc, routing.block_counts, runtime::moe_route_blocks(m.expert_cfg, m.received),
                             m.config.capacity, m.overflow.ptr(), s, m.rt);
  const runtime::MoeFp8Rows xq = m.ws->xq(m.received);
  runtime::ep_recv_permute(m.kc, m.L * m.config.capacity, m.recv_fp8.ptr(), m.recv_scales.ptr(),
                           routing.row_to_token, xq.data, xq.scales, xq.scale_stride, s, m.rt);
  m.done.record(s);
  m.done.wait_in(caller);
}

void EpExchange::combine_low_latency(CUdeviceptr y, CUdeviceptr out, CUstream caller) {
  Impl& m = *impl_;
  if (m.config.mode != EpMode::low_latency) bad("combine_low_latency() on a normal-mode exchange");
  CUstream s = m.stream.get();
  m.ready.record(caller);
  m.ready.wait_in(s);
  runtime::moe_combine(m.expert_cfg, m.received, y, m.ws->routing(), m.recv_weight.ptr(), m.partial.ptr(), s, m.rt);
  std::vector<int> fixed(m.R + 1);
  for (int p = 0; p <= m.R; ++p) fixed[p] = p * m.config.max_tokens;
  m.exchange_rows(fixed, fixed, true);
  runtime::MoeRouting source{};
  source.token_slot = m.token_rows.ptr();
  runtime::moe_combine(m.source_cfg, m.num_tokens, m.returned.ptr(), source, m.ones.ptr(), out, s, m.rt);
  m.done.record(s);
  m.done.wait_in(caller);
}

EpCounters EpExchange::take_counters() {
  Impl& m = *impl_;
  m.group.synchronize(m.stream.get(), "EP counters");
  EpCounters c;
  c.bad_ids = m.bad_ids.download<int>(1)[0];
  const auto o = m.overflow.download<int>(m.L + 1);
  c.overflow_per_expert.assign(o.begin(), o.begin() + m.L);
  c.overflow = o[m.L];
  const auto& drv = runtime::driver();
  SHAPEJIT_CU(drv.cuMemsetD32Async(m.bad_ids.ptr(), 0, 1, m.stream.get()));
  SHAPEJIT_CU(drv.cuMemsetD32Async(m.overflow.ptr(), 0, m.L + 1, m.stream.get()));
  m.group.synchronize(m.stream.get(), "EP counters reset");
  return c;
}

}  // namespace shapejit::comm
