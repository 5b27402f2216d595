#include "bench_mla_call.hpp"

namespace shapejit::cli {

using namespace shapejit::runtime;

MlaBenchCall::MlaBenchCall(const MlaConfig& c, int batch, int num_sms, const MlaPagedCache& kv) {
  const std::size_t rows = static_cast<std::size_t>(batch) * c.seq_q * c.num_heads_q;
  q_ = DeviceBuffer(rows * kMlaHeadDim * 2);
  out_ = DeviceBuffer(rows * kMlaValueDim * 2);
  lse_ = DeviceBuffer(rows * 4);
  q_.fill_bytes(0x3c);   // small positive BF16 pairs, not zeros
  meta_ = DeviceBuffer(mla_metadata_bytes(batch, mla_num_sm_parts(c, num_sms)));
  ws_ = DeviceBuffer(mla_workspace_bytes(c, batch, num_sms));
  mla_decode_metadata(c, batch, kv.cache_seqlens, meta_.ptr(), meta_.bytes(), nullptr);
  args_.batch = batch;
  args_.num_blocks = kv.num_blocks;
  args_.max_blocks_per_seq = kv.max_blocks_per_seq;
  args_.q = q_.ptr();
  args_.k_cache = kv.cache;
  args_.block_table = kv.block_table;
  args_.cache_seqlens = kv.cache_seqlens;
  args_.out = out_.ptr();
  args_.lse = lse_.ptr();
  args_.metadata = meta_.ptr();
  args_.metadata_bytes = meta_.bytes();
  args_.workspace = ws_.ptr();
  args_.workspace_bytes = ws_.bytes();
}

}  // namespace shapejit::cli
