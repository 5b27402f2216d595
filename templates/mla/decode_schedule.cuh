#pragma once
// The MLA decode split plan: which contiguous run of KV blocks each SM part processes.
//
// The same code runs in the metadata kernel (one thread, on the GPU, so the call can be captured
// in a CUDA graph) and on the host (runtime/mla_schedule.cpp), where tests check it for coverage
// and balance. It is plain C++ apart from the function qualifier.
//
// Units: a KV block is kBlockTokens = 64 tokens (one step of the split kernel). A request of
// `len` tokens costs ceil(len / 64) blocks plus kSplitOverhead for every split of it: the
// overhead stands for loading the 64x576 query tile (72 KB, about one KV block of bytes), writing
// and re-reading a 64x512 FP32 partial in the combine step, and the pipeline fill.
//
// Metadata layout (int32), written by plan_splits():
//   [part * kPartInts + 0..4]  begin_req, begin_block, begin_split, end_req, end_block
//   [parts * kPartInts + r]    splits_prefix[r], r = 0..batch (splits of requests < r)
// A part processes requests begin_req..end_req; request begin_req from begin_block (its split
// number begin_split), request end_req up to end_block (exclusive); requests in between whole.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define SHAPEJIT_MLA_HD __host__ __device__
#else
#define SHAPEJIT_MLA_HD
#endif

namespace shapejit::mla_plan {

constexpr int kBlockTokens = 64;
constexpr int kSplitOverhead = 5;
constexpr int kPartInts = 8;

SHAPEJIT_MLA_HD inline int blocks_of(int seqlen) {
  return seqlen <= 0 ? 0 : (seqlen + kBlockTokens - 1) / kBlockTokens;
}

// Number of int32 the metadata takes.
SHAPEJIT_MLA_HD inline int metadata_ints(int num_parts, int batch) {
  return num_parts * kPartInts + batch + 1;
}

// Upper bound on the total number of splits, for sizing the partial-result workspace: every
// part boundary cuts at most one request in two.
SHAPEJIT_MLA_HD inline int max_total_splits(int num_parts, int batch) { return batch + num_parts; }

// The cost budget of one part; every part's cost (blocks + overhead per split) stays within it.
// NOTES: a part stops when the room left is <= kSplitOverhead (wasting at most that much) and
// each cut adds one overhead, so ceil(total/parts) + 2 * kSplitOverhead is enough for the last
// part too; it still takes everything left, as a guard.
SHAPEJIT_MLA_HD inline int part_payload(int total_cost, int num_parts) {
  return (total_cost + num_parts - 1) / num_parts + 2 * kSplitOverhead;
}

// seqlens: any indexable of int (device pointer or host array). meta: metadata_ints() int32.
template <typename SeqLens>
SHAPEJIT_MLA_HD inline void plan_splits(const SeqLens& seqlens, int batch, int num_parts,
                                        int* meta) {
  int* prefix = meta + num_parts * kPartInts;
  int total = 0;
  for (int r = 0; r < batch; ++r) {
    const int n = blocks_of(seqlens[r]);
    if (n > 0) total += n + kSplitOverhead;
    prefix[r + 1] = 0;   // holds the split count of request r until the prefix pass below
  }
  const int payload = part_payload(total, num_parts);

  int req = 0, blk = 0, split = 0;
  for (int p = 0; p < num_parts; ++p) {
    int* m = meta + p * kPartInts;
    m[0] = req;
    m[1] = blk;
    m[2] = split;
    int room = (p == num_parts - 1) ? 0x3fffffff : payload;
    while (req < batch) {
      const int n = blocks_of(seqlens[req]);
      if (n == 0) {
        ++req;
        blk = 0;
        split = 0;
        continue;
      }
      const int rest = n - blk + kSplitOverhead;
      if (rest <= room) {   // the rest of this request fits: finish it here
        room -= rest;
        prefix[req + 1] = split + 1;
        ++req;
        blk = 0;
        split = 0;
        continue;
      }
      const int take = room - kSplitOverhead;
      if (take > 0) {       // cut: this part takes `take` blocks, the next part the remainder
        blk += take;
        ++split;
      }
      break;
    }
    m[3] = req;
    m[4] = blk;
    m[5] = m[6] = m[7] = 0;
  }
  prefix[0] = 0;
  for (int r = 0; r < batch; ++r) prefix[r + 1] += prefix[r];
}

}  // namespace shapejit::mla_plan
