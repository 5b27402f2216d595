#pragma once
// The per-call buffers of an MLA decode benchmark over an existing paged cache: q (filled with
// small non-zero BF16 values), out, lse, scheduler metadata (computed here) and the split
// workspace, and the MlaDecodeArgs that point at them.
#include <cstddef>

#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::cli {

struct MlaPagedCache {
  CUdeviceptr cache = 0, block_table = 0, cache_seqlens = 0;
  int num_blocks = 0, max_blocks_per_seq = 0;
};

class MlaBenchCall {
 public:
  MlaBenchCall(const runtime::MlaConfig& config, int batch, int num_sms, const MlaPagedCache& kv);
  const runtime::MlaDecodeArgs& args() const { return args_; }

 private:
  runtime::DeviceBuffer q_, out_, lse_, meta_, ws_;
  runtime::MlaDecodeArgs args_;
};

}  // namespace shapejit::cli
