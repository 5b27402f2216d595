#pragma once
// The host side of `shapejit bench profile` (and of `bench moe --profile`): reading the base
// profile, deciding what is measured and what is carried, the token counts, assembling the
// measured profile and the report. No GPU code here, so all of it is tested without a GPU.
#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "ep_comm_measurement.hpp"
#include "shapejit/planner/cost_profile_writer.hpp"

namespace shapejit::cli {

// Reads a cost profile to build on: the file must exist, be JSON, and be a profile the overlap
// chooser parses. Throws Error(invalid_argument) whose message names the file.
nlohmann::json read_base_profile(const std::string& path);

// Writes text to path through a temporary file in the same folder and a rename, so a failed
// write leaves an existing file as it was. Throws Error(io) naming the file.
void write_file_atomically(const std::string& path, const std::string& text);

// Throws Error(invalid_argument) naming FILE when the folder FILE would be written into does
// not exist (checked before any measurement, so a run does not fail at its end).
void check_output_folder(const std::string& option, const std::string& path);

// DeepSeek-V3 dims of the ops `bench profile` measures.
struct Dsv3 {
  static constexpr int hidden = 7168;
  static constexpr int moe_intermediate = 2048;      // per routed and per shared expert
  static constexpr int local_experts = 32;           // 256 experts over 8 GPUs
  static constexpr int top_k = 8;
  static constexpr int heads = 128;                  // h_q of MLA decode
  static constexpr int q_lora_rank = 1536;
  static constexpr int qkv_a_n = 2112;               // q_a (1536) + kv_a (512 + 64)
  static constexpr int q_b_n = 24576;                // 128 heads x (128 + 64)
  static constexpr int o_proj_k = 16384;             // 128 heads x 128
  static constexpr int page_size = 64;
};

// What one measured op runs on the GPU.
enum class ProfileKernel { moe_experts, shared_expert, mla_decode_attention };

struct PlannedOp {
  std::string phase, op;
  ProfileKernel kernel;
  std::vector<int> tokens;   // token counts measured, ascending
  std::string how;           // goes into the profile's source
};

// A dispatch or combine measured by `bench ep` (--comm FILE): the fit the profile gets and the
// points it was fitted to.
struct PlannedComm {
  planner::MeasuredComm fit;
  std::vector<std::pair<int, double>> points;   // [tokens, us]
};

struct ProfilePlan {
  std::vector<PlannedOp> measure;
  std::vector<PlannedComm> comm;
  std::vector<planner::CarriedOp> carried;   // every op not measured, with the reason
};

// Token counts around a phase's tokens: t/4, t/2, t, 2t (at least 1, no repeats, ascending).
std::vector<int> profile_token_counts(int phase_tokens);

// Largest phase `tokens` the bench takes (it measures up to twice that).
inline constexpr int kMaxProfilePhaseTokens = 32768;
// Most KV-cache bytes the MLA decode measurement allocates (batch x context x 1152 B).
inline constexpr double kMaxMlaCacheBytes = 16.0 * (1u << 30);

// For every phase of the base: moe_gemm and shared_expert measured; attention measured (MLA
// decode core + projections, batch = tokens, every request at `context` tokens) in the phase
// named "decode" and carried elsewhere (no prefill attention kernel); dispatch and combine
// measured where a `bench ep` run of that phase is given (comm, fitted to the COMM model), else
// carried with the reason. Throws Error(invalid_argument) for a context out of range, a phase
// too large to measure, a base op missing, a run for a phase the base lacks, two runs for one
// phase, or a run that cannot be fitted.
ProfilePlan plan_profile(const nlohmann::json& base, const std::string& base_path, int context,
                         const std::vector<EpCommRun>& comm = {});

// One timed piece of an op at one token count.
struct TimedPiece {
  std::string name;
  double us = 0;
};
struct OpMeasurement {
  int tokens = 0;
  std::vector<TimedPiece> pieces;
  double total_us() const;
};

// The measured profile: results[i] holds plan.measure[i]'s measurements (one per token count).
// Throws Error(invalid_argument) when the shapes disagree or a time is invalid.
nlohmann::json assemble_profile(const nlohmann::json& base, const std::string& base_path,
                                const ProfilePlan& plan,
                                const std::vector<std::vector<OpMeasurement>>& results,
                                const std::string& device, int sms, const std::string& command);

// The report: one JSON object (device, out, base, context, per phase the measured ops with their
// points and pieces and the carried ops with their reasons) and the same as a table.
// Keys keep their order (phases as planned, pieces as timed).
nlohmann::ordered_json profile_report(const ProfilePlan& plan,
                                      const std::vector<std::vector<OpMeasurement>>& results,
                                      const std::string& device, int sms, const std::string& out,
                                      const std::string& base_path, int context);
void print_profile_table(std::ostream& os, const nlohmann::ordered_json& report);

}  // namespace shapejit::cli
