#pragma once
// Tuning search spaces: for one op and shape, every configuration the kernel's definition
// allows, as candidates ready to compile and time. Combinations the definition's rules (or the
// op's own validity check, e.g. gemm_config_valid) refuse are counted by rule and never become
// candidates, so they are never compiled. Plain structs and functions: a host app or a Python
// binding can list a space without a GPU.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::runtime::tuning {

// What a tuning record holds for: the device, the SMs the kernels were given, and the versions
// of the driver and compiler that built and ran them. A record for another context is ignored.
struct TuningContext {
  std::string device;          // the device's name
  std::string arch;            // "sm_90a"
  int num_sms = 0;             // SMs the kernels may use (a tuning dimension)
  int driver_version = 0;      // 0: no driver
  std::string nvrtc_version;   // jit::nvrtc_identity()
};
// The target as the tuner sees it (NVRTC's identity filled in).
TuningContext context_of(const DeviceInfo& target);
// One line of text over every field (part of a candidate's key).
std::string context_identity(const TuningContext& context);

// Version of a kernel definition: a hash over its parameters (names, kinds, allowed values),
// its rules' text and the embedded header text, so editing the kernel or its rules retires
// the records measured for the old one.
std::string definition_version(const jit::KernelDefinition& definition);

// One configuration of one op shape.
struct Candidate {
  std::string op;                  // "gemm_fp8", ...
  std::string shape_json;          // canonical shape (GEMM: M at its bucket's upper end)
  std::string config_json;         // the configuration, by field name
  jit::KernelSpec spec;            // the kernel it compiles to
  std::string definition_version;  // of the spec's kernel definition
  bool baseline = false;           // the heuristic's pick for the shape
  double flops = 0, bytes = 0;     // one call's work and its minimum memory traffic
};

struct SpaceOptions {
  int max_candidates = 0;         // per shape, 0: all; the baseline always stays
  std::vector<int> sm_counts{};   // SM counts to try (each <= the target's); empty: the target's
  // false: each tile and multicast choice with its deepest pipeline and widest output swizzle
  // (the heuristic's own policy for those two); true: every stage count and swizzle as well.
  bool wide = false;
};

struct SearchSpace {
  std::string op, shape_json;
  std::vector<Candidate> candidates;              // the baseline first
  long long combinations = 0;                     // enumerated from the definition's values
  long long rejected = 0;                         // refused by a rule: never compiled
  std::map<std::string, long long> rejected_by_rule;
  long long narrowed = 0;                         // left out by the !wide policy
  long long capped = 0;                           // left out by max_candidates
};

struct TunableOp {
  std::string_view op;
  std::string_view summary;       // what is tuned
};
// Ops with a search space in this build.
std::vector<TunableOp> tunable_ops();
bool is_tunable(std::string_view op);

// The space of one shape (a manifest entry of the op, e.g. {"op":"gemm_fp8","m":4096,...}).
// Throws Error(invalid_argument) naming the field for a shape the op does not take.
SearchSpace search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                         const SpaceOptions& options = {});
// Tests only: a copy of a GEMM candidate whose kernel drops the last K block
// (GemmConfig::test_drop_last_k_block), so its result is wrong on purpose and the session must
// reject it. Add it to a space with SessionOptions::edit_space. Throws Error(invalid_argument)
// for another op or when K is a single block.
Candidate gemm_candidate_dropping_last_k_block(const Candidate& candidate, const DeviceInfo& target);

// The op's shapes in the built-in DeepSeek-V3 set (manifest entries as JSON text).
std::vector<std::string> deepseek_v3_shapes(const std::string& op);

}  // namespace shapejit::runtime::tuning
