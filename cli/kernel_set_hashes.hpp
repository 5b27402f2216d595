#pragma once
// The cubin hash of every kernel of the built-in DeepSeek-V3 set, compiled here for a target.
#include <vector>

#include "kernel_ledger.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::cli {

// Compiles runtime::deepseek_v3_specs(target) in this process on `threads` threads (at least 1)
// and returns (canonical spec, cubin_hash) in the set's order. A failed compile throws.
std::vector<HashedKernel> deepseek_v3_kernel_hashes(const runtime::DeviceInfo& target, int threads);

}  // namespace shapejit::cli
