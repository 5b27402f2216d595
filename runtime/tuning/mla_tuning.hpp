#pragma once
// MLA decode's side of tuning: its search space (mla_space.cpp) and GPU measurer
// (mla_gpu_measurer.cpp).
#include <string>

#include <nlohmann/json.hpp>

#include "shapejit/jit/kernel_definition.hpp"
#include "shapejit/runtime/mla.hpp"

#include "shapejit/runtime/tuning_space.hpp"

namespace shapejit::runtime::tuning::detail {

// The decode workload every MLA candidate is timed on (DeepSeek-V3 decode on one GPU: 128
// requests of 4096 cached tokens each, equal lengths so the bytes read are exact). KV traffic
// grows with the lengths, so the timings of one shape compare only on one workload; each
// candidate's config names it ("timed_batch", "timed_seqlen") for reports and record reuse.
inline constexpr int kMlaTimedBatch = 128;
inline constexpr int kMlaTimedSeqlen = 4096;

bool is_mla_op(const std::string& op);
// The config of a manifest shape of mla_decode (the load path is left at its default; throws
// Error(invalid_argument) naming the field).
MlaConfig mla_shape_config(const std::string& shape_json);
// The definition an MLA record's version is taken from: the split kernel of the record's load
// path (what the load path and the SM count change).
const jit::KernelDefinition& mla_record_definition(const nlohmann::json& config);
SearchSpace mla_search_space(const std::string& shape_json, const DeviceInfo& target, const SpaceOptions& options);

}  // namespace shapejit::runtime::tuning::detail
