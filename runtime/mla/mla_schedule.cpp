// Host twin of the MLA decode scheduler: runs the very plan_splits() the metadata kernel runs
// (templates/mla/decode_schedule.cuh is plain C++ on the host), so tests check the GPU's plan.
#include <string>

#include "mla/decode_schedule.cuh"
#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {

static_assert(mla_plan::kBlockTokens == kMlaBlockN, "scheduler tile differs from the runtime's");
static_assert(mla_plan::kSplitOverhead == kMlaSplitOverhead, "split overhead differs");
static_assert(mla_plan::kPartInts * 4 == sizeof(MlaSchedulePart), "part record size differs");

MlaSchedule mla_schedule_host(std::span<const std::int32_t> seqlens, int num_parts) {
  if (num_parts < 1)
    fail(Errc::invalid_argument, "mla schedule: num_parts = " + std::to_string(num_parts) +
                                     " must be at least 1");
  const int batch = static_cast<int>(seqlens.size());
  std::vector<int> meta(static_cast<std::size_t>(mla_plan::metadata_ints(num_parts, batch)), -7);
  mla_plan::plan_splits(seqlens.data(), batch, num_parts, meta.data());
  MlaSchedule s;
  s.parts.resize(num_parts);
  for (int p = 0; p < num_parts; ++p) {
    const int* m = meta.data() + p * mla_plan::kPartInts;
    s.parts[p] = MlaSchedulePart{m[0], m[1], m[2], m[3], m[4], {m[5], m[6], m[7]}};
  }
  s.split_begin.assign(meta.begin() + num_parts * mla_plan::kPartInts, meta.end());
  return s;
}

int mla_part_budget(std::span<const std::int32_t> seqlens, int num_parts) {
  int total = 0;
  for (int len : seqlens) {
    const int n = mla_plan::blocks_of(len);
    if (n > 0) total += n + mla_plan::kSplitOverhead;
  }
  return mla_plan::part_payload(total, num_parts);
}

}  // namespace shapejit::runtime
