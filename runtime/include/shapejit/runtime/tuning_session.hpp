#pragma once
// A tuning session: compile every candidate of the requested shapes (CPU phase: prune what
// fails to compile, spills or exceeds the device's registers or shared memory), then check and
// time the survivors against the heuristic's pick (GPU phase), writing each candidate's
// outcome to the kernel database the moment it is known. A session killed at any point resumes
// by id without redoing what was recorded; a new session reuses every record of a candidate
// already decided on the same device and versions.
#include <cuda.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/jit/compile_result.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/gemm_heuristic.hpp"
#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime {
class Runtime;
}

namespace shapejit::runtime::tuning {

struct Measurement {
  double median_us = 0.0;
  double spread_us = 0.0;   // max - min of the middle half of the runs
  int runs = 0;
};

// A library the candidates are compared with, timed on the same operands in the same run
// (GEMM: cuBLASLt). Recorded with status "reference": it is not a candidate and is never
// selected. `error` set: it could not be timed (no algorithm, a failed launch).
struct ReferenceMeasurement {
  std::string name;        // e.g. "cuBLASLt FP8 block-scaled (VEC128 x BLK128x128)"
  Measurement time;
  std::string error;
};

// The measuring step. The real one times kernels on the GPU (make_gpu_measurer); tests inject
// their own to check the session's logic without a GPU.
class Measurer {
 public:
  virtual ~Measurer() = default;
  // Empty when this measurer can time kernels here, else why not ("no CUDA driver: ...").
  virtual std::string unavailable() = 0;
  // Empty when the candidate's op can be timed by this measurer, else why not.
  virtual std::string unsupported(const Candidate& candidate) { return {}; }
  // Runs the candidate once on fresh random inputs against the op's reference: empty when the
  // result is right, else the error (a rejected candidate never wins).
  virtual std::string check(const Candidate& candidate) = 0;
  // Warm-up, then `runs` timed runs (L2 flushed before each).
  virtual Measurement measure(const Candidate& candidate, int runs) = 0;
  // Rounds of one run of each candidate in turn, so drift hits all alike (finalists with the
  // baseline). Default: measure() each.
  virtual std::vector<Measurement> measure_interleaved(const std::vector<const Candidate*>& candidates, int runs);
  // The reference's time on the shape of `baseline` (the heuristic's pick), `runs` runs, after the
  // finalists; nullopt when the op has none here (default).
  virtual std::optional<ReferenceMeasurement> measure_reference(const Candidate& baseline, int runs) {
    return std::nullopt;
  }
};

// A measurer for the ops of one family ("gemm": gemm_fp8, gemm_bf16, ...).
struct MeasurerFamily {
  std::string name;
  std::vector<std::string> ops;
  std::function<std::unique_ptr<Measurer>()> make;   // called once, on the family's first use
};
// One measurer over several families: each call goes to the family that lists the candidate's
// op (a group given to measure_interleaved must be of one family). unavailable() is
// `unavailable` (e.g. no driver) when that says so, else the families' reasons when none of
// them can measure here; unsupported() names the op and the ops measured when no family lists
// it, else gives the family's unavailable() or unsupported().
std::unique_ptr<Measurer> make_routing_measurer(std::vector<MeasurerFamily> families,
                                                std::function<std::string()> unavailable = {});

// A normal GEMM's operands on the device, as the GEMM measurer holds them (gemm.hpp's layouts:
// A [M, K], B [N, K], D [M, N] packed; FP8: a_scales M-major with a_scale_stride, b_scales
// [ceil(N/128)][K/128]), for a reference library to run the same product.
struct GemmOperands {
  GemmProblem problem;
  CUdeviceptr a = 0, b = 0, d = 0, a_scales = 0, b_scales = 0;
  std::int64_t a_scale_stride = 0;
};
// One way a library runs that product: its name and a launch on a stream (which may throw
// Error). A provider gives them in order of preference; empty: none for the problem.
struct ReferenceLaunch {
  std::string name;
  std::function<void(CUstream)> launch;
};
using GemmReferenceProvider = std::function<std::vector<ReferenceLaunch>(const GemmOperands&)>;

struct GpuMeasureOptions {
  int warmup = 3;             // untimed runs before the timed ones
  bool cuda_graph = false;    // time decode-sized shapes (M <= 128) as one CUDA-graph launch
  // gemm_fp8 / gemm_bf16 shapes: the reference timed after the finalists (the CLI passes
  // cuBLASLt, cli/cublaslt_gemm.hpp; the runtime itself does not link cuBLASLt). Empty: none.
  GemmReferenceProvider gemm_reference;
};
// The GPU measuring step: a routing measurer over the GPU families of this build (their list is
// gpu_measurer_families(), runtime/tuning/gpu_measurers.cpp), sharing one timer (stream, events,
// L2 flush). Kernels come from `runtime`. Ops no family measures are reported unsupported.
std::unique_ptr<Measurer> make_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options = {});

// What a session is asked to do; stored with it so `--resume` needs nothing else.
struct SessionRequest {
  std::vector<std::string> ops;        // empty: every tunable op
  std::string model;                   // "deepseek-v3", or empty with manifest_json
  std::string manifest_json;           // a precompile manifest's text (its "op" entries)
  double budget_s = 0.0;               // wall-clock limit of the GPU phase; 0: none
  SpaceOptions space;
  int finalists = 3;                   // re-measured against the baseline at the end
  int runs = 20;                       // timed runs per candidate
  double early_stop_ratio = 1.5;       // after 5 runs, slower than this × the best: stop
};
std::string request_to_json(const SessionRequest& request);
SessionRequest request_from_json(const std::string& json);   // throws Error(invalid_argument)

struct Progress {
  std::string phase;        // "compile" or "measure"
  long long done = 0, total = 0;
  std::string current;      // what was just finished
};

struct SessionOptions {
  std::string resume;                  // id of a session to resume (its request is used)
  std::string id;                      // id of a new session; empty: a fresh one
  // The compile step: default Runtime::cubin of `runtime` (worker processes, kernel cache).
  std::function<jit::CompileResult(const jit::KernelSpec&)> compile;
  Runtime* runtime = nullptr;          // for the default compile step
  Measurer* measurer = nullptr;        // null: nothing can be measured (CPU phase only)
  int jobs = 1;                        // parallel compiles
  // Called with each shape's space before anything is compiled: may remove candidates (as
  // Triton's prune_configs_by) or add ones (tests add a wrong one); the first, the baseline,
  // must stay first. Not stored with the session: give it again to --resume.
  std::function<void(SearchSpace&)> edit_space;
  std::function<void(const Progress&)> on_progress;
};

struct SessionResult {
  std::string id;
  std::string state;                   // "complete", "budget" (stopped by the budget), "cpu_only"
  std::string unmeasured_reason;       // why nothing was measured (cpu_only)
  long long shapes = 0, candidates = 0;
  long long rejected_by_rules = 0;     // never compiled
  long long narrowed = 0;              // valid, left out by the space's policy or cap
  long long compiled = 0, pruned = 0, rejected = 0, measured = 0, unmeasured = 0, winners = 0;
  long long reused = 0;                // decided by another session on the same device and versions
  long long already_recorded = 0;      // resumed: recorded by this session before
  long long references = 0;            // reference rows (e.g. cuBLASLt) written
  double compile_seconds = 0.0, measure_seconds = 0.0;
};

// Runs (or resumes) a session against `store`. `target` is the device the kernels are for
// (its SM count is the default SM dimension).
SessionResult run_session(cache::KernelStore& store, const SessionRequest& request, const DeviceInfo& target,
                          const SessionOptions& options);

// Why a compiled candidate cannot run well: spills, registers or shared memory beyond the
// device's; empty when it is fine.
std::string prune_reason(const jit::CompileResult& result, const Candidate& candidate, const DeviceInfo& target);

// The winner rule: the fastest finalist wins when its median beats the baseline's by more than
// the larger of the two spreads (and by at least min_gain of the baseline). Returns the index
// into `finalists`, or -1; *why says how it was decided.
int select_winner(const Measurement& baseline, const std::vector<Measurement>& finalists, std::string* why,
                  double min_gain = 0.01);

}  // namespace shapejit::runtime::tuning
