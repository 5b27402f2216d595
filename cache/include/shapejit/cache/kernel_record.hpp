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

// One measured configuration of one shape on one device.
struct TuningRecord {
  std::string key;            // empty on put: tuning_key(spec_family, shape_json, config_json, device)
  std::string spec_family;
  std::string shape_json, config_json;
  double time_us = 0.0;
  std::int64_t measured_at = 0;   // unix seconds; 0 on put: now
  std::string device;             // e.g. "NVIDIA H100 80GB HBM3 sm_90a 132 SMs"
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
