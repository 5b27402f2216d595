#pragma once
// Pipeline-parallel schedules: per-rank operation lists for 1F1B, ZB1P, DualPipe and DualPipeV.
//
// A micro-batch passes through `stages` model stages forward (F) and back (B). B may be split
// into the input-gradient part (I) and the weight-gradient part (W), run later to fill bubbles.
// DualPipe-style schedules also run a forward and a backward of two different micro-batches as one
// overlapped op (F&B), so that one's communication hides under the other's compute.
#include <array>
#include <string>
#include <vector>

namespace shapejit::planner {

enum class ScheduleKind { one_f_one_b, zb1p, dualpipe, dualpipev };
const char* to_string(ScheduleKind kind);
ScheduleKind parse_schedule_kind(const std::string& text);  // "1f1b" | "zb1p" | "dualpipe" | "dualpipev"

enum class PassKind : char {
  forward = 'F',
  backward = 'B',        // full backward: input and weight gradients
  backward_input = 'I',  // input gradient only; its W comes later
  weight = 'W',
};

struct Pass {
  PassKind kind = PassKind::forward;
  int stage = 0;
  int micro_batch = 0;
  int recv_from = -1;  // rank this pass receives its input from (activation or gradient), −1: local
  int send_to = -1;    // rank this pass sends its output to, −1: local or none
};

struct PipelineOp {
  std::array<Pass, 2> pass{};
  int passes = 1;  // 2: an overlapped F&B (pass[0] forward, pass[1] full backward)
  bool overlapped() const { return passes == 2; }
};

struct Schedule {
  ScheduleKind kind = ScheduleKind::one_f_one_b;
  int ranks = 0;
  int stages = 0;  // ranks, or 2 × ranks for DualPipeV
  int micro_batches = 0;
  std::vector<std::vector<PipelineOp>> ops;  // [rank] in execution order
  int rank_of(int stage, int micro_batch) const;
};

// Chunks of a schedule: stages × micro-batches. Each holds up to three passes (F, and B or I + W),
// so this bounds the ops generated and simulated and every per-pass output.
long long schedule_chunks(ScheduleKind kind, int ranks, int micro_batches);
// NOTES: keeps a typo from turning into minutes of work or gigabytes of memory: a chunk costs
// about 200 bytes of schedule and simulation state (2M chunks of DualPipeV: 1 s, 390 MB).
inline constexpr long long kMaxScheduleChunks = 1'000'000;

// Throws Error(invalid_argument) for a rank or micro-batch count the schedule cannot run:
// DualPipe needs an even rank count and an even micro-batch count ≥ 2 × ranks; DualPipeV needs
// micro-batches ≥ 2 × ranks; 1F1B and ZB1P need ranks ≥ 1 and micro-batches ≥ 1; more than
// kMaxScheduleChunks chunks are refused.
Schedule make_schedule(ScheduleKind kind, int ranks, int micro_batches);

// Checks that every micro-batch has exactly one F and either one B or one I and one W at every
// stage, each on the rank that holds that stage, with W after its I. Throws on a violation.
void check_schedule(const Schedule& schedule);

}  // namespace shapejit::planner
