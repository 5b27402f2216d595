// DualPipe and DualPipeV: two model chunks per rank, eight phases per rank.
//
// Both schedules give rank r two chunks. DualPipe (P ranks, P stages): rank r holds stage r for
// the micro-batches entering at rank 0 and stage P−1−r for those entering at rank P−1, so each
// stage's parameters live on two ranks. DualPipeV (N ranks, 2N stages): micro-batches go down the
// ranks through stages 0..N−1 and come back up through N..2N−1; rank r holds r and 2N−1−r.
//
// In both, "chunk 0" is the one whose micro-batches reach rank r first, "chunk 1" the other, and
// h is the rank's distance from the nearer end (H = P/2 or N ranks per half, C micro-batches per
// chunk). The phases, in order, with their repeat counts:
//   1  F0                 2(H−h−1)   fill: only chunk 0 has work yet
//   2  F0 F1              h+1        chunk 1's first micro-batches arrive
//   3  I1 W1 F1           H−h−1      first backwards, split so chunk 1's next F starts sooner
//   4  F0&B1 F1&B0        C−2H+h+1   steady state: every op overlaps a forward and a backward
//   5  B1 F1&B0           H−h−1      chunk 0's forwards are done
//   6  B1 B0              h+1        drain; from the middle on, B is split and W deferred
//   7  W B0(I)            H−h−1      deferred weights fill the wait for the next gradient
//   8  W                  h+1        remaining weights
#include <deque>

#include "pipeline_detail.hpp"

namespace shapejit::planner::detail {
namespace {

struct Chunk {
  int stage;
  int first_micro_batch;
  int next_forward = 0;
  int next_backward = 0;
};

class RankBuilder {
 public:
  RankBuilder(Chunk c0, Chunk c1) : chunk_{c0, c1} {}

  Pass forward(int c) {
    Chunk& ch = chunk_[c];
    return {PassKind::forward, ch.stage, ch.first_micro_batch + ch.next_forward++};
  }
  Pass backward(int c, bool split) {
    Chunk& ch = chunk_[c];
    Pass p{split ? PassKind::backward_input : PassKind::backward, ch.stage, ch.first_micro_batch + ch.next_backward++};
    if (split) deferred_.push_back(p);
    return p;
  }
  void add(Pass p) {
    PipelineOp op;
    op.pass[0] = p;
    ops.push_back(op);
  }
  void add_overlapped(Pass f, Pass b) { ops.push_back(overlapped(f, b)); }
  void add_weight() {
    const Pass i = deferred_.front();
    deferred_.pop_front();
    add({PassKind::weight, i.stage, i.micro_batch});
  }

  std::vector<PipelineOp> ops;

 private:
  Chunk chunk_[2];
  std::deque<Pass> deferred_;  // split backwards whose W has not run yet, oldest first
};

}  // namespace

std::vector<PipelineOp> dual_rank_ops(const Schedule& s, int r) {
  int half, h, per_chunk;
  Chunk c0{}, c1{};
  if (s.kind == ScheduleKind::dualpipe) {
    const int P = s.ranks;
    half = P / 2;
    per_chunk = s.micro_batches / 2;
    h = std::min(r, P - 1 - r);
    const Chunk down{r, 0}, up{P - 1 - r, per_chunk};  // entering at rank 0 / at rank P−1
    c0 = r < half ? down : up;
    c1 = r < half ? up : down;
  } else {
    half = s.ranks;
    per_chunk = s.micro_batches;
    h = r;
    c0 = {r, 0};
    c1 = {2 * s.ranks - 1 - r, 0};
  }
  RankBuilder b(c0, c1);
  const int outer = half - h - 1;  // phases 3, 5 and 7
  for (int i = 0; i < 2 * outer; ++i) b.add(b.forward(0));
  for (int i = 0; i < h + 1; ++i) {
    b.add(b.forward(0));
    b.add(b.forward(1));
  }
  for (int i = 0; i < outer; ++i) {
    b.add(b.backward(1, true));
    b.add_weight();
    b.add(b.forward(1));
  }
  for (int i = 0; i < per_chunk - 2 * half + h + 1; ++i) {
    const Pass f0 = b.forward(0), b1 = b.backward(1, false);
    b.add_overlapped(f0, b1);
    const Pass f1 = b.forward(1), b0 = b.backward(0, false);
    b.add_overlapped(f1, b0);
  }
  for (int i = 0; i < outer; ++i) {
    b.add(b.backward(1, false));
    const Pass f1 = b.forward(1), b0 = b.backward(0, false);
    b.add_overlapped(f1, b0);
  }
  // Phase 6: the second half of these backwards is split; the switch falls between B1 and B0 of
  // the middle iteration when h + 1 is odd, so exactly h + 1 weights are deferred.
  bool split = false;
  for (int i = 0; i < h + 1; ++i) {
    if (i == (h + 1) / 2 && h % 2 == 1) split = true;
    b.add(b.backward(1, split));
    if (i == (h + 1) / 2 && h % 2 == 0) split = true;
    b.add(b.backward(0, split));
  }
  for (int i = 0; i < outer; ++i) {
    b.add_weight();
    b.add(b.backward(0, true));
  }
  for (int i = 0; i < h + 1; ++i) b.add_weight();
  return std::move(b.ops);
}

}  // namespace shapejit::planner::detail
