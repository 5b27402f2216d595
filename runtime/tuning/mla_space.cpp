// MLA decode search spaces: the split kernel's load path (cp.async, the proven default, or TMA,
// a candidate until a GPU run proves it) and the SMs it is given, which set the scheduler's
// partitions and so how many splits each request's KV gets. Page size, KV dtype, h_q and s_q
// are the shape; the tile sizes are constants of the kernels (docs/mla.md).
#include <nlohmann/json.hpp>

#include "mla_tuning.hpp"
#include "space_sms.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/mla.hpp"
#include "shapejit/runtime/op_shape.hpp"

namespace shapejit::runtime::tuning::detail {
namespace {

constexpr const char* kOp = "mla_decode";

}  // namespace

MlaConfig mla_shape_config(const std::string& shape_json) {
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(shape_json);
  } catch (const nlohmann::json::exception& e) {
    fail(Errc::invalid_argument, std::string(kOp) + ": shape is not JSON: " + e.what());
  }
  // The load path is what is tuned, so a shape does not name it.
  const OpShape f(s, kOp, {"h_q", "s_q", "page_size", "kv_dtype"});
  MlaConfig c;
  c.num_heads_q = f.integer("h_q", 1, 1 << 16, 128);
  c.seq_q = f.integer("s_q", 1, 1 << 16, 1);
  c.page_size = f.integer("page_size", 1, 1 << 16, 64);
  c.kv_dtype = f.choice("kv_dtype", {"bf16", "fp8", "fp8_e4m3"}, "bf16") == "bf16" ? MlaKvDtype::bf16
                                                                                  : MlaKvDtype::fp8_e4m3;
  validate(c);
  return c;
}

bool is_mla_op(const std::string& op) { return op == kOp; }

const jit::KernelDefinition& mla_record_definition(const nlohmann::json& config) {
  const std::string path = config.value("load_path", std::string("cp_async"));
  return jit::find_kernel_definition("mla", path == "tma" ? "mla_decode_split_tma" : "mla_decode_split");
}

SearchSpace mla_search_space(const std::string& shape_json, const DeviceInfo& target, const SpaceOptions& options) {
  const MlaConfig base = mla_shape_config(shape_json);
  const std::vector<int> sms = space_sm_counts(options, target);
  SearchSpace space;
  space.op = kOp;
  space.shape_json = mla_tuning_shape(base);   // what a call looks its winner up by
  // The baseline first: the proven load path on the target's SMs (what a call picks).
  std::vector<std::pair<MlaLoadPath, int>> order{{MlaLoadPath::cp_async, target.num_sms}};
  for (MlaLoadPath path : {MlaLoadPath::cp_async, MlaLoadPath::tma})
    for (int n : sms)
      if (!(path == MlaLoadPath::cp_async && n == target.num_sms)) order.emplace_back(path, n);
  for (const auto& [path, n] : order) {
    ++space.combinations;
    MlaConfig c = base;
    c.load_path = path;
    DeviceInfo t = target;
    t.num_sms = n;
    std::vector<jit::KernelSpec> specs;
    try {
      specs = mla_kernel_specs(c, t);   // the definitions' checks
    } catch (const Error& e) {
      ++space.rejected;
      ++space.rejected_by_rule[e.what()];
      continue;
    }
    if (options.max_candidates > 0 && static_cast<int>(space.candidates.size()) >= options.max_candidates) {
      ++space.capped;
      continue;
    }
    Candidate cand;
    cand.op = kOp;
    cand.shape_json = space.shape_json;
    cand.config_json = nlohmann::json{{"load_path", path == MlaLoadPath::tma ? "tma" : "cp_async"},
                                      {"NUM_SMS", n},
                                      {"timed_batch", kMlaTimedBatch},
                                      {"timed_seqlen", kMlaTimedSeqlen}}
                           .dump();
    cand.spec = specs[1];   // the split kernel: what the load path and SMs change
    cand.definition_version = definition_version(mla_record_definition(nlohmann::json::parse(cand.config_json)));
    cand.baseline = space.candidates.empty();
    // The KV cache bytes of the timed workload, each read once at least (throughput in GB/s).
    cand.bytes = static_cast<double>(kMlaTimedBatch) * kMlaTimedSeqlen * mla_kv_row_bytes(base.kv_dtype);
    space.candidates.push_back(std::move(cand));
  }
  return space;
}

}  // namespace shapejit::runtime::tuning::detail
