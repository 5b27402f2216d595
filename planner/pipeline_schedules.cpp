// Schedule kinds, 1F1B and ZB1P generators, transfer annotation and the structural check.
#include <deque>
#include <string>

#include "pipeline_detail.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/pipeline.hpp"

namespace shapejit::planner {
namespace {

using detail::single;

// 1F1B: rank i runs P−1−i warm-up forwards, then alternates one F and one full B, then drains.
std::vector<PipelineOp> one_f_one_b(int rank, int ranks, int m) {
  std::vector<PipelineOp> ops;
  const int warmup = std::min(ranks - 1 - rank, m);
  for (int k = 0; k < warmup; ++k) ops.push_back(single(PassKind::forward, rank, k));
  for (int k = 0; k < m - warmup; ++k) {
    ops.push_back(single(PassKind::forward, rank, k + warmup));
    ops.push_back(single(PassKind::backward, rank, k));
  }
  for (int k = m - warmup; k < m; ++k) ops.push_back(single(PassKind::backward, rank, k));
  return ops;
}

// ZB1P (zero bubble, 1F1B memory): the 1F1B order with B split into I and W. Rank i holds back
// its first i weight passes and runs them in the cool-down, where 1F1B leaves rank i idle for
// about i backward steps; every other W follows its I at once, so activations stay at 1F1B's.
std::vector<PipelineOp> zb1p(int rank, int ranks, int m) {
  std::vector<PipelineOp> ops;
  std::deque<int> pending;
  const int warmup = std::min(ranks - 1 - rank, m);
  const size_t held_back = size_t(rank);
  auto backward = [&](int k) {
    ops.push_back(single(PassKind::backward_input, rank, k));
    pending.push_back(k);
    if (pending.size() > held_back) {
      ops.push_back(single(PassKind::weight, rank, pending.front()));
      pending.pop_front();
    }
  };
  for (int k = 0; k < warmup; ++k) ops.push_back(single(PassKind::forward, rank, k));
  for (int k = 0; k < m - warmup; ++k) {
    ops.push_back(single(PassKind::forward, rank, k + warmup));
    backward(k);
  }
  for (int k = m - warmup; k < m; ++k) backward(k);
  for (int k : pending) ops.push_back(single(PassKind::weight, rank, k));
  return ops;
}

void annotate_transfers(Schedule& s) {
  for (int r = 0; r < s.ranks; ++r) {
    for (PipelineOp& op : s.ops[r]) {
      for (int i = 0; i < op.passes; ++i) {
        Pass& p = op.pass[i];
        int from = -1, to = -1;
        if (p.kind == PassKind::forward) {
          if (p.stage > 0) from = s.rank_of(p.stage - 1, p.micro_batch);
          if (p.stage + 1 < s.stages) to = s.rank_of(p.stage + 1, p.micro_batch);
        } else if (p.kind != PassKind::weight) {
          if (p.stage + 1 < s.stages) from = s.rank_of(p.stage + 1, p.micro_batch);
          if (p.stage > 0) to = s.rank_of(p.stage - 1, p.micro_batch);
        }
        p.recv_from = from == r ? -1 : from;
        p.send_to = to == r ? -1 : to;
      }
    }
  }
}

}  // namespace

const char* to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::one_f_one_b: return "1f1b";
    case ScheduleKind::zb1p: return "zb1p";
    case ScheduleKind::dualpipe: return "dualpipe";
    case ScheduleKind::dualpipev: return "dualpipev";
  }
  return "?";
}

ScheduleKind parse_schedule_kind(const std::string& text) {
  if (text == "1f1b") return ScheduleKind::one_f_one_b;
  if (text == "zb1p") return ScheduleKind::zb1p;
  if (text == "dualpipe") return ScheduleKind::dualpipe;
  if (text == "dualpipev") return ScheduleKind::dualpipev;
  fail(Errc::invalid_argument, "unknown pipeline schedule '" + text + "' (expected 1f1b, zb1p, dualpipe or dualpipev)");
}

int Schedule::rank_of(int stage, int micro_batch) const {
  switch (kind) {
    case ScheduleKind::dualpipe: return micro_batch < micro_batches / 2 ? stage : ranks - 1 - stage;
    case ScheduleKind::dualpipev: return stage < ranks ? stage : 2 * ranks - 1 - stage;
    default: return stage;
  }
}

long long schedule_chunks(ScheduleKind kind, int ranks, int micro_batches) {
  const long long stages = kind == ScheduleKind::dualpipev ? 2LL * ranks : ranks;
  return stages * micro_batches;
}

Schedule make_schedule(ScheduleKind kind, int ranks, int micro_batches) {
  const std::string what = std::string(to_string(kind)) + " with " + std::to_string(ranks) + " ranks and " +
                           std::to_string(micro_batches) + " micro-batches";
  if (ranks < 1 || micro_batches < 1) fail(Errc::invalid_argument, what + ": both counts must be ≥ 1");
  if (schedule_chunks(kind, ranks, micro_batches) > kMaxScheduleChunks)
    fail(Errc::invalid_argument, what + ": too large to simulate (stages × micro-batches = " +
                                     std::to_string(schedule_chunks(kind, ranks, micro_batches)) + ", at most " +
                                     std::to_string(kMaxScheduleChunks) + ")");
  if (kind == ScheduleKind::dualpipe && ranks % 2 != 0)
    fail(Errc::invalid_argument, what + ": DualPipe needs an even number of ranks");
  if (kind == ScheduleKind::dualpipe && micro_batches % 2 != 0)
    fail(Errc::invalid_argument, what + ": DualPipe needs an even number of micro-batches (half enter at each end)");
  if ((kind == ScheduleKind::dualpipe || kind == ScheduleKind::dualpipev) && micro_batches < 2 * ranks)
    fail(Errc::invalid_argument, what + ": needs at least 2 × ranks = " + std::to_string(2 * ranks) + " micro-batches");
  Schedule s;
  s.kind = kind;
  s.ranks = ranks;
  s.stages = kind == ScheduleKind::dualpipev ? 2 * ranks : ranks;
  s.micro_batches = micro_batches;
  s.ops.resize(ranks);
  for (int r = 0; r < ranks; ++r) {
    switch (kind) {
      case ScheduleKind::one_f_one_b: s.ops[r] = one_f_one_b(r, ranks, micro_batches); break;
      case ScheduleKind::zb1p: s.ops[r] = zb1p(r, ranks, micro_batches); break;
      default: s.ops[r] = detail::dual_rank_ops(s, r); break;
    }
  }
  annotate_transfers(s);
  return s;
}

void check_schedule(const Schedule& s) {
  // Per (stage, micro-batch): counts of F, B, I, W and the op index of I on its rank.
  const size_t cells = size_t(s.stages) * size_t(s.micro_batches);
  std::vector<int> f(cells, 0), b(cells, 0), in(cells, 0), w(cells, 0);
  auto bad = [&](const std::string& msg) { fail(Errc::invalid_argument, std::string(to_string(s.kind)) + ": " + msg); };
  for (int r = 0; r < s.ranks; ++r) {
    for (const PipelineOp& op : s.ops[r]) {
      if (op.overlapped() && (op.pass[0].kind != PassKind::forward || op.pass[1].kind != PassKind::backward))
        bad("an overlapped op must pair a forward with a full backward");
      for (int i = 0; i < op.passes; ++i) {
        const Pass& p = op.pass[i];
        const std::string at = "stage " + std::to_string(p.stage) + ", micro-batch " + std::to_string(p.micro_batch);
        if (p.stage < 0 || p.stage >= s.stages || p.micro_batch < 0 || p.micro_batch >= s.micro_batches)
          bad("pass out of range at " + at);
        if (s.rank_of(p.stage, p.micro_batch) != r) bad(at + " runs on rank " + std::to_string(r) + ", not its owner");
        const size_t c = size_t(p.stage) * s.micro_batches + p.micro_batch;
        switch (p.kind) {
          case PassKind::forward: ++f[c]; break;
          case PassKind::backward: ++b[c]; break;
          case PassKind::backward_input: ++in[c]; break;
          case PassKind::weight:
            if (in[c] != 1) bad("W before its I at " + at);
            ++w[c];
            break;
        }
      }
    }
  }
  for (size_t c = 0; c < cells; ++c) {
    const std::string at = "stage " + std::to_string(c / s.micro_batches) + ", micro-batch " +
                           std::to_string(c % s.micro_batches);
    if (f[c] != 1) bad(std::to_string(f[c]) + " forward passes at " + at);
    if (!((b[c] == 1 && in[c] == 0 && w[c] == 0) || (b[c] == 0 && in[c] == 1 && w[c] == 1)))
      bad("backward passes at " + at + " are not exactly one B or one I + one W");
  }
}

}  // namespace shapejit::planner
