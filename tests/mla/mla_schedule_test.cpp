// Host twin of the MLA scheduler: every KV tile of every request is assigned exactly once, the
// split counts agree with split_begin, and the parts are balanced.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {
namespace {

int tiles(int len) { return (len + kMlaBlockN - 1) / kMlaBlockN; }

// Walks the schedule like the split kernel's part cursor does; fails the test on any gap or
// overlap. Returns the largest part cost (tiles + one overhead per piece).
long long check_schedule(const std::vector<std::int32_t>& lens, int num_parts) {
  SCOPED_TRACE("batch " + std::to_string(lens.size()) + ", parts " + std::to_string(num_parts));
  const MlaSchedule s = mla_schedule_host(lens, num_parts);
  const int batch = static_cast<int>(lens.size());
  EXPECT_EQ(static_cast<int>(s.parts.size()), num_parts);
  EXPECT_EQ(static_cast<int>(s.split_begin.size()), batch + 1);
  std::vector<std::vector<int>> seen(batch);
  for (int b = 0; b < batch; ++b) seen[b].assign(tiles(lens[b]), 0);
  std::vector<std::vector<int>> split_ids(batch);
  long long max_load = 0;
  for (int pi = 0; pi < num_parts; ++pi) {
    const MlaSchedulePart& p = s.parts[pi];
    long long load = 0;
    for (int b = p.begin_req; b <= std::min(p.end_req, batch - 1); ++b) {
      const int begin = b == p.begin_req ? p.begin_block : 0;
      const int end = std::min(b == p.end_req ? p.end_block : tiles(lens[b]), tiles(lens[b]));
      if (begin >= end) continue;
      for (int t = begin; t < end; ++t) ++seen[b][t];
      split_ids[b].push_back(s.split_begin[b] + (b == p.begin_req ? p.first_split : 0));
      load += end - begin + kMlaSplitOverhead;
    }
    max_load = std::max(max_load, load);
  }
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < tiles(lens[b]); ++t)
      EXPECT_EQ(seen[b][t], 1) << "request " << b << " tile " << t;
    const int n = s.split_begin[b + 1] - s.split_begin[b];
    EXPECT_EQ(static_cast<int>(split_ids[b].size()), n) << "request " << b;
    if (lens[b] <= 0) EXPECT_EQ(n, 0) << "zero-length request " << b << " has no split";
    else EXPECT_GE(n, 1) << "request " << b;
    std::vector<int> ids = split_ids[b];
    std::sort(ids.begin(), ids.end());
    for (int i = 0; i < static_cast<int>(ids.size()); ++i)
      EXPECT_EQ(ids[i], s.split_begin[b] + i) << "split indices of request " << b;
  }
  EXPECT_LE(s.split_begin[batch], batch + num_parts) << "workspace holds batch + parts splits";
  // Balance: every part, the last one included, stays within the plan's budget
  // ceil(total / parts) + 2 · overhead.
  EXPECT_LE(max_load, mla_part_budget(lens, num_parts));
  return max_load;
}

TEST(MlaSchedule, UniformLengthsCoverEveryTileOnceAndBalance) {
  for (int parts : {1, 7, 33, 66, 132})
    for (int batch : {1, 2, 6, 64, 128})
      check_schedule(std::vector<std::int32_t>(batch, 4096), parts);
}

TEST(MlaSchedule, RandomLengthsWithZerosCoverEveryTileOnce) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int batch = 1 + static_cast<int>(rng() % 130);
    std::vector<std::int32_t> lens(batch);
    for (auto& l : lens) l = rng() % 5 == 0 ? 0 : static_cast<int>(rng() % 20000);
    check_schedule(lens, 1 + static_cast<int>(rng() % 132));
  }
}

TEST(MlaSchedule, AllZeroLengthsHaveNoSplits) {
  check_schedule(std::vector<std::int32_t>(17, 0), 132);
  check_schedule(std::vector<std::int32_t>(300, 0), 8);
}

TEST(MlaSchedule, LongRequestIsSplitAcrossManyParts) {
  const std::vector<std::int32_t> lens{1 << 20};
  const MlaSchedule s = mla_schedule_host(lens, 132);
  EXPECT_GE(s.split_begin[1], 120);   // one piece per part, up to the budget slack
  EXPECT_LE(s.split_begin[1], 132);
  check_schedule(lens, 132);
}

TEST(MlaSchedule, BalancedWithinTwoOverheadsOfTheMean) {
  std::mt19937 rng(7);
  std::vector<std::int32_t> lens(128);
  for (auto& l : lens) l = 2048 + static_cast<int>(rng() % 12288);
  long long total = 0;
  for (int l : lens) total += tiles(l) + kMlaSplitOverhead;
  const long long max_load = check_schedule(lens, 132);
  EXPECT_LE(max_load, total / 132 + 2 * kMlaSplitOverhead + 1);
  EXPECT_GE(max_load, total / 132);
}

TEST(MlaSchedule, RejectsZeroParts) {
  const std::vector<std::int32_t> lens{10};
  EXPECT_THROW(mla_schedule_host(lens, 0), Error);
}

}  // namespace
}  // namespace shapejit::runtime
