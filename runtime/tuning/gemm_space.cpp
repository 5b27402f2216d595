// GEMM search spaces: every BLOCK_M, BLOCK_N, pipeline depth, multicast (and which operand),
// output swizzle and SM count the kernel definition allows for a shape, checked by
// gemm_config_valid (the definition's rules plus the device's shared memory and SMs).
#include <algorithm>
#include <map>
#include <regex>
#include <tuple>

#include <nlohmann/json.hpp>

#include "gemm_tuning.hpp"
#include "space_sms.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/op_registry.hpp"
#include "shapejit/runtime/op_shape.hpp"
#include "shapejit/runtime/tuning_records.hpp"

namespace shapejit::runtime::tuning {
namespace detail {
namespace {

constexpr long long kMaxInt = 2147483647;

std::vector<int> values_of(const jit::KernelDefinition& def, const char* name) {
  std::vector<int> v;
  for (long long x : def.find(name)->values()) v.push_back(static_cast<int>(x));
  return v;
}

// The rule a refused config breaks, as a counting key: the rule's own text, or the validity
// check's message with its numbers elided.
std::string rule_key(const std::string& why) {
  const auto at = why.find("the rule '");
  if (at != std::string::npos) {
    const auto end = why.find('\'', at + 10);
    return why.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
  }
  static const std::regex digits("[0-9]+");
  return std::regex_replace(why, digits, "#");
}

// The heuristic's ordering, used to decide which candidates a --max-candidates cap keeps:
// fewest waves of tiles, fullest last wave, larger tile.
std::tuple<long long, long long, long long> prior(const GemmProblem& p, const GemmConfig& c) {
  const long long m_blocks = (std::max(p.m, 1) + c.block_m - 1) / c.block_m;
  const long long n_blocks = (p.n + c.block_n - 1) / c.block_n;
  const long long tiles = (p.layout == GemmLayout::grouped_masked ? p.num_groups : 1) * m_blocks * n_blocks;
  const long long waves = (tiles + c.num_sms - 1) / c.num_sms;
  return {waves, -(tiles - (waves - 1) * c.num_sms), -static_cast<long long>(c.block_m) * c.block_n};
}

}  // namespace

bool is_gemm_op(const std::string& op) {
  return op == "gemm_fp8" || op == "gemm_bf16" || op == "gemm_fp8_grouped_contiguous" ||
         op == "gemm_fp8_grouped_masked";
}

GemmProblem gemm_problem(const std::string& op, const std::string& shape_json, const DeviceInfo& target) {
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(shape_json);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, op + ": shape is not JSON: " + e.what());
  }
  // The op's own manifest reader checks every field (same errors as precompile).
  find_op_family(op).specs_for(s, target);
  GemmProblem p;
  if (op == "gemm_fp8") {
    const OpShape f(s, op, {"m", "n", "k"});
    p.m = f.integer("m", 1, kMaxInt);
    p.n = f.integer("n", 1, kMaxInt);
    p.k = f.integer("k", 1, kMaxInt);
  } else if (op == "gemm_bf16") {
    const OpShape f(s, op, {"m", "n", "k", "out"});
    p.kind = GemmKind::bf16;
    p.m = f.integer("m", 1, kMaxInt);
    p.n = f.integer("n", 1, kMaxInt);
    p.k = f.integer("k", 1, kMaxInt);
    p.out_fp32 = f.choice("out", {"bf16", "f32"}, "bf16") == "f32";
  } else if (op == "gemm_fp8_grouped_contiguous") {
    const OpShape f(s, op, {"m", "n", "k", "groups", "align_m"});
    p.layout = GemmLayout::grouped_contiguous;
    p.m = f.integer("m", 1, kMaxInt);
    p.n = f.integer("n", 1, kMaxInt);
    p.k = f.integer("k", 1, kMaxInt);
    p.num_groups = f.integer("groups", 1, 65536);
    p.align_m = f.integer("align_m", 1, kMaxInt, 128);
  } else if (op == "gemm_fp8_grouped_masked") {
    const OpShape f(s, op, {"m", "n", "k", "groups", "expected_m"});
    p.layout = GemmLayout::grouped_masked;
    const int m_max = f.integer("m", 1, kMaxInt);
    const int expected = f.integer("expected_m", 0, kMaxInt, 0);
    p.m = expected > 0 ? std::min(expected, m_max) : m_max;
    p.n = f.integer("n", 1, kMaxInt);
    p.k = f.integer("k", 1, kMaxInt);
    p.num_groups = f.integer("groups", 1, 65536);
  } else {
    fail(Errc::invalid_argument, "tune: '" + op + "' is not a GEMM op");
  }
  p.m = gemm_m_bucket(p.m);
  return p;
}

std::string gemm_config_json(const GemmConfig& c) {
  nlohmann::json j = {{"BLOCK_M", c.block_m},          {"BLOCK_N", c.block_n},
                      {"kNumStages", c.num_stages},     {"kNumMulticast", c.num_multicast},
                      {"kMulticastOnA", c.multicast_on_a}, {"kSwizzleDBytes", c.swizzle_d_bytes},
                      {"NUM_SMS", c.num_sms}};
  if (c.test_drop_last_k_block) j["test_drop_last_k_block"] = true;
  return j.dump();
}

void gemm_work(const GemmProblem& p, double* flops, double* bytes) {
  const double groups = p.layout == GemmLayout::normal ? 1.0 : p.num_groups;
  const double m_rows = p.layout == GemmLayout::grouped_masked ? groups * p.m : p.m;
  const double in = p.kind == GemmKind::fp8_1d2d ? 1.0 : 2.0;
  const double out = p.kind == GemmKind::bf16 && p.out_fp32 ? 4.0 : 2.0;
  *flops = 2.0 * m_rows * p.n * static_cast<double>(p.k);
  *bytes = m_rows * p.k * in + groups * p.n * static_cast<double>(p.k) * in + m_rows * p.n * out;
}

SearchSpace gemm_search_space(const std::string& op, const std::string& shape_json, const DeviceInfo& target,
                              const SpaceOptions& options) {
  const GemmProblem p = gemm_problem(op, shape_json, target);
  const jit::KernelDefinition& def = gemm_definition(p.kind);
  const std::string version = definition_version(def);
  const std::vector<int> sms = space_sm_counts(options, target);
  SearchSpace space;
  space.op = op;
  space.shape_json = gemm_shape_json(p);
  const int block_k = p.kind == GemmKind::fp8_1d2d ? 128 : 64;

  std::vector<GemmConfig> valid;
  for (int bm : values_of(def, "BLOCK_M"))
    for (int bn : values_of(def, "BLOCK_N"))
      for (int stages : values_of(def, "kNumStages"))
        for (int mc : values_of(def, "kNumMulticast"))
          for (int on_a = 0; on_a <= (mc > 1 ? 1 : 0); ++on_a)   // which operand: only with a pair
            for (int sw : values_of(def, "kSwizzleDBytes"))
              for (int n_sms : sms) {
                ++space.combinations;
                GemmConfig c;
                c.block_m = bm;
                c.block_n = bn;
                c.block_k = block_k;
                c.num_stages = stages;
                c.num_multicast = mc;
                c.multicast_on_a = on_a != 0;
                c.swizzle_d_bytes = sw;
                c.num_sms = n_sms;
                c.smem_bytes = gemm_smem_bytes(p.kind, bm, bn, stages, p.out_fp32);
                std::string why;
                if (!gemm_config_valid(p, c, target, &why)) {
                  ++space.rejected;
                  ++space.rejected_by_rule[rule_key(why)];
                  continue;
                }
                valid.push_back(c);
              }

  // Narrow: per tile, multicast and SM count, the deepest pipeline, then the widest swizzle.
  std::vector<GemmConfig> kept;
  if (options.wide) {
    kept = valid;
  } else {
    std::map<std::tuple<int, int, int, bool, int>, GemmConfig> best;
    for (const GemmConfig& c : valid) {
      const auto key = std::make_tuple(c.block_m, c.block_n, c.num_multicast, c.multicast_on_a, c.num_sms);
      auto it = best.find(key);
      if (it == best.end() || c.num_stages > it->second.num_stages ||
          (c.num_stages == it->second.num_stages && c.swizzle_d_bytes > it->second.swizzle_d_bytes))
        best[key] = c;
    }
    for (const GemmConfig& c : valid) {
      const auto key = std::make_tuple(c.block_m, c.block_n, c.num_multicast, c.multicast_on_a, c.num_sms);
      if (best.at(key) == c) kept.push_back(c);
    }
    space.narrowed = static_cast<long long>(valid.size() - kept.size());
  }

  DeviceInfo for_baseline = target;
  const GemmConfig base = heuristic_gemm_config(p, for_baseline);
  std::stable_sort(kept.begin(), kept.end(),
                   [&](const GemmConfig& a, const GemmConfig& b) { return prior(p, a) < prior(p, b); });
  std::vector<GemmConfig> ordered{base};
  for (const GemmConfig& c : kept)
    if (!(c == base)) ordered.push_back(c);
  if (options.max_candidates > 0 && static_cast<int>(ordered.size()) > options.max_candidates) {
    space.capped = static_cast<long long>(ordered.size()) - options.max_candidates;
    ordered.resize(static_cast<std::size_t>(std::max(options.max_candidates, 1)));
  }
  double flops = 0, bytes = 0;
  gemm_work(p, &flops, &bytes);
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    Candidate c;
    c.op = op;
    c.shape_json = space.shape_json;
    c.config_json = gemm_config_json(ordered[i]);
    c.spec = gemm_kernel_spec(p, ordered[i], target);
    c.definition_version = version;
    c.baseline = i == 0;
    c.flops = flops;
    c.bytes = bytes;
    space.candidates.push_back(std::move(c));
  }
  return space;
}

}  // namespace detail

Candidate gemm_candidate_dropping_last_k_block(const Candidate& candidate, const DeviceInfo& target) {
  if (!detail::is_gemm_op(candidate.op))
    fail(Errc::invalid_argument, "tune: " + candidate.op + " is not a GEMM op");
  const GemmProblem p = detail::gemm_problem(candidate.op, candidate.shape_json, target);
  cache::TuningRecord r;
  r.config_json = candidate.config_json;
  std::optional<GemmConfig> config = gemm_config_of(r, p);
  if (!config) fail(Errc::invalid_argument, "tune: candidate config does not parse: " + candidate.config_json);
  config->test_drop_last_k_block = true;
  std::string why;
  if (!gemm_config_valid(p, *config, target, &why))
    fail(Errc::invalid_argument, "tune: no wrong variant of this candidate: " + why);
  Candidate wrong = candidate;
  wrong.config_json = detail::gemm_config_json(*config);
  wrong.spec = gemm_kernel_spec(p, *config, target);
  wrong.baseline = false;
  return wrong;
}

std::string gemm_op(const GemmProblem& p) {
  if (p.kind == GemmKind::bf16) return "gemm_bf16";
  if (p.layout == GemmLayout::grouped_contiguous) return "gemm_fp8_grouped_contiguous";
  if (p.layout == GemmLayout::grouped_masked) return "gemm_fp8_grouped_masked";
  return "gemm_fp8";
}

std::string gemm_shape_json(const GemmProblem& p) {
  nlohmann::json s = {{"op", gemm_op(p)}, {"m", gemm_m_bucket(std::max(p.m, 1))}, {"n", p.n}, {"k", p.k}};
  if (p.kind == GemmKind::bf16) s["out"] = p.out_fp32 ? "f32" : "bf16";
  if (p.layout != GemmLayout::normal) s["groups"] = p.num_groups;
  if (p.layout == GemmLayout::grouped_contiguous) s["align_m"] = p.align_m;
  return s.dump();
}

std::optional<GemmConfig> gemm_config_of(const cache::TuningRecord& r, const GemmProblem& p) {
  try {
    const nlohmann::json j = nlohmann::json::parse(r.config_json);
    GemmConfig c;
    c.block_m = j.at("BLOCK_M").get<int>();
    c.block_n = j.at("BLOCK_N").get<int>();
    c.block_k = p.kind == GemmKind::fp8_1d2d ? 128 : 64;
    c.num_stages = j.at("kNumStages").get<int>();
    c.num_multicast = j.at("kNumMulticast").get<int>();
    c.multicast_on_a = j.at("kMulticastOnA").get<bool>();
    c.swizzle_d_bytes = j.at("kSwizzleDBytes").get<int>();
    c.num_sms = j.at("NUM_SMS").get<int>();
    c.test_drop_last_k_block = j.value("test_drop_last_k_block", false);
    c.smem_bytes = gemm_smem_bytes(p.kind, c.block_m, c.block_n, c.num_stages, p.out_fp32);
    return c;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace shapejit::runtime::tuning
