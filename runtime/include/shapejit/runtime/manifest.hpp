#pragma once
// Precompile manifests: a JSON file listing operator shapes (and, for experts, raw specs):
//
//   {"target": {"arch": "sm_90a", "num_sms": 132},          // optional
//    "kernels": [
//      {"op": "quant_fp8", "k": 7168},
//      {"op": "gemm_fp8", "m": 4096, "n": 7168, "k": 2048},
//      {"spec": "quant/per_token_group_quant<512,128,256>@sm_90a"}]}
//
// Every entry is checked before anything is compiled; a bad one is an Error(invalid_argument)
// naming the entry's index and the problem.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "shapejit/jit/kernel_spec.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::runtime {

class TunedConfigs;   // tuned_configs.hpp

struct Manifest {
  std::vector<jit::KernelSpec> specs;   // deduplicated, in file order
  DeviceInfo target;                    // what the specs are for: the caller's, with the
                                        // manifest's "target" fields applied
  bool sets_arch = false, sets_num_sms = false;   // the manifest's "target" named them
  // Every "op" entry as written (op name, the entry's JSON), in file order: the shapes a
  // tuning session takes from the same file.
  std::vector<std::pair<std::string, std::string>> op_entries;
};

// target: the device kernels are specialized for; a manifest's "target" overrides its fields.
// tuned: the tuning winners the calls would consult (load_tuning_records; nullptr: the
// heuristic's configs).
Manifest load_manifest(const std::filesystem::path& path, DeviceInfo target,
                       const TunedConfigs* tuned = nullptr);
Manifest parse_manifest(const std::string& text, DeviceInfo target, const std::string& origin,
                        const TunedConfigs* tuned = nullptr);

}  // namespace shapejit::runtime
