#pragma once
// The rows of the kernel database: compiled kernels, tuning measurements and cost profiles.
#include <cstdint>
#include <string>
#include <vector>

namespace shapejit::cache {

// One compiled kernel, stored under the JIT's cache key.
struct KernelRecord {
  std::string key;            // jit::compile_key
  std::string spec;           // canonical spec text
  std::string family, arch;
  std::string lowered_name;
  std::vector<std::uint8_t> cubin;
  std::string ptx, log;       // log: the ptxas report
  int registers = -1, spill_store_bytes = 0, spill_load_bytes = 0, stack_frame_bytes = 0;
  int static_smem_bytes = 0;
  double compile_ms = 0.0;
  std::int64_t created = 0, last_used = 0;   // unix seconds; 0 on put: now
  std::int64_t bytes = 0;                    // stored size (cubin + PTX + log), set by put
};

// XXH3-128 over the kernel's identity (key, spec, family, arch, lowered name) and its content
// (cubin, PTX, log), each length-prefixed, as 32 hex digits. Stored beside every kernel and
// checked on every read, by verify and by import: content copied into another kernel's row fails.
std::string record_checksum(const KernelRecord& record);

// The checksum of schema versions 1 and 2 (content and lowered name only). Used once, when an
// older file is migrated: rows that still match it are given record_checksum().
std::string content_checksum_v2(const KernelRecord& record);

// One configuration of one shape on one device: a measurement, or (schema 4) the outcome of a
// candidate in a tuning session — pruned, rejected, measured, not measured, or the winner.
struct TuningRecord {
  std::string key{};            // empty on put: tuning_key(spec_family, shape_json, config_json, device)
  std::string spec_family{};    // the op, e.g. "gemm_fp8"
  std::string shape_json{}, config_json{};
  double time_us = 0.0;           // median
  std::int64_t measured_at = 0;   // unix seconds; 0 on put: now
  std::string device{};             // the device's name, e.g. "NVIDIA H100 80GB HBM3"
  // Schema 4. Rows from before it read as status "measured" with no session or versions.
  std::string session{};            // the tuning session that wrote it
  std::string candidate_key{};      // the candidate without its session: op, shape, config, context
  std::string status = "measured";   // see kTuning* below
  std::string reason{};             // why pruned, rejected or not measured; how a winner won
  std::string spec{};               // canonical kernel spec of the candidate
  double spread_us = 0.0;         // of the runs behind time_us (max - min of the middle half)
  double baseline_us = 0.0;       // winner rows: the heuristic's pick in the same interleaved runs
  double throughput = 0.0;        // in throughput_unit
  std::string throughput_unit{};    // "TFLOPS" or "GB/s"
  bool baseline = false;          // the candidate is the heuristic's pick
  std::string arch{};               // e.g. "sm_90a"
  int num_sms = 0;                // SMs the kernels were given (a tuning dimension)
  int driver_version = 0;         // e.g. 13000; 0: no driver
  std::string nvrtc_version{}, definition_version{};
};

inline constexpr const char* kTuningMeasured = "measured";
inline constexpr const char* kTuningPruned = "pruned";         // by the compile: failure, spills, resources
inline constexpr const char* kTuningRejected = "rejected";     // wrong result against the reference
inline constexpr const char* kTuningUnmeasured = "unmeasured"; // compiled, nothing could time it
inline constexpr const char* kTuningWinner = "winner";         // the session's choice for the shape
inline constexpr const char* kTuningReference = "reference";   // a library (cuBLASLt) timed on the shape: never selected

// A tuning session: what was asked, on which device, and how far it got.
struct TuningSession {
  std::string id;
  std::int64_t created = 0, updated = 0;   // unix seconds; 0 on put: now
  std::string state;                       // "running", "complete", "budget", "cpu_only"
  std::string request_json;                // the request, enough to resume it
  std::string device;                      // the device context, for people
  std::string summary_json;                // counts by status, shapes, time
};

// XXH3-128 (hex) over the four parts: one record per (family, shape, config, device).
std::string tuning_key(const std::string& spec_family, const std::string& shape_json,
                       const std::string& config_json, const std::string& device);

// A named cost profile (JSON text) for the planner.
struct Profile {
  std::string name, json;
  std::int64_t created = 0;   // unix seconds
};

}  // namespace shapejit::cache
