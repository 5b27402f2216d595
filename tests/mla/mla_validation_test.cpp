// mla_decode's preconditions fail with errors that name the problem, before any driver call
// (these run without a GPU).
#include <gtest/gtest.h>

#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/mla.hpp"

namespace shapejit::runtime {
namespace {

constexpr int kSms = 132;

MlaDecodeArgs good_args(const MlaConfig& c) {
  MlaDecodeArgs a;
  a.batch = 4;
  a.num_blocks = 64;
  a.max_blocks_per_seq = 16;
  a.q = 0x10000;
  a.k_cache = 0x20000;
  a.block_table = 0x30000;
  a.cache_seqlens = 0x40000;
  a.out = 0x50000;
  a.lse = 0x60000;
  a.metadata = 0x70000;
  a.metadata_bytes = mla_metadata_bytes(a.batch, mla_num_sm_parts(c, kSms));
  a.workspace = 0x80000;
  a.workspace_bytes = mla_workspace_bytes(c, a.batch, kSms);
  return a;
}

void expect_error(const MlaConfig& c, const MlaDecodeArgs& a, const std::string& needle) {
  try {
    validate(c, a, kSms);
    ADD_FAILURE() << "expected an error naming '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(MlaValidation, AcceptsTheDeepSeekV3Configs) {
  for (int h : {16, 32, 64, 128})
    for (int sq : {1, 2})
      for (auto dt : {MlaKvDtype::bf16, MlaKvDtype::fp8_e4m3}) {
        MlaConfig c{h, sq, 64, dt};
        EXPECT_NO_THROW(validate(c, good_args(c), kSms));
      }
}

TEST(MlaValidation, ConfigFieldsAreNamed) {
  MlaConfig c;
  c.num_heads_q = 48;
  expect_error(c, good_args(MlaConfig{}), "num_heads_q");
  c = MlaConfig{};
  c.seq_q = 0;
  expect_error(c, good_args(MlaConfig{}), "seq_q");
  c = MlaConfig{};
  c.page_size = 48;
  expect_error(c, good_args(MlaConfig{}), "page_size");
  c = MlaConfig{};
  c.kv_dtype = static_cast<MlaKvDtype>(7);
  expect_error(c, good_args(MlaConfig{}), "kv_dtype");
}

TEST(MlaValidation, ShapesAndScaleAreNamed) {
  const MlaConfig c;
  MlaDecodeArgs a = good_args(c);
  a.batch = 0;
  expect_error(c, a, "batch");
  a = good_args(c);
  a.num_blocks = 0;
  expect_error(c, a, "num_blocks");
  a = good_args(c);
  a.max_blocks_per_seq = 0;
  expect_error(c, a, "max_blocks_per_seq");
  a = good_args(c);
  a.num_blocks = 1 << 26;   // 2^32 rows of 64 tokens: past the tensor-map coordinate range
  expect_error(c, a, "2^31");
  a = good_args(c);
  a.softmax_scale = -1.0f;
  expect_error(c, a, "softmax_scale");
}

TEST(MlaValidation, NullAndMisalignedPointersAreNamed) {
  const MlaConfig c;
  MlaDecodeArgs a = good_args(c);
  a.q = 0;
  expect_error(c, a, "q is null");
  a = good_args(c);
  a.k_cache += 8;
  expect_error(c, a, "k_cache must be 16-byte aligned");
  a = good_args(c);
  a.block_table += 2;
  expect_error(c, a, "block_table must be 4-byte aligned");
  a = good_args(c);
  a.out += 4;
  expect_error(c, a, "out must be 16-byte aligned");
  a = good_args(c);
  a.lse = 0;
  expect_error(c, a, "lse is null");
}

TEST(MlaValidation, SmallMetadataAndWorkspaceAreNamed) {
  const MlaConfig c;
  MlaDecodeArgs a = good_args(c);
  a.metadata_bytes -= 4;
  expect_error(c, a, "metadata_bytes");
  a = good_args(c);
  a.workspace_bytes -= 4;
  expect_error(c, a, "workspace_bytes");
}

TEST(MlaValidation, SizesFollowTheSchedule) {
  const MlaConfig c{128, 2, 64, MlaKvDtype::bf16};
  EXPECT_EQ(mla_num_m_tiles(c), 4);
  EXPECT_EQ(mla_num_sm_parts(c, 132), 33);
  EXPECT_EQ(mla_num_sm_parts(MlaConfig{16, 1, 64, MlaKvDtype::bf16}, 132), 132);
  EXPECT_EQ(mla_kv_row_bytes(MlaKvDtype::fp8_e4m3), 656);
  EXPECT_EQ(mla_kv_row_bytes(MlaKvDtype::bf16), 1152);
  EXPECT_EQ(mla_metadata_bytes(10, 33), 33u * 32 + 11 * 4);
  EXPECT_EQ(mla_workspace_bytes(c, 10, 132), (10u + 33) * 256 * 513 * 4);
}

}  // namespace
}  // namespace shapejit::runtime

namespace shapejit::runtime {
namespace {

void expect_table_error(const std::vector<std::int32_t>& table, const std::vector<std::int32_t>& lens,
                        const std::string& needle) {
  try {
    validate_block_table(MlaConfig{16, 1, 16, MlaKvDtype::bf16}, 2, 3, 8, table, lens);
    ADD_FAILURE() << "expected an error naming '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(MlaValidation, BlockTableEntriesInUseMustNameExistingPages) {
  // Page size 16, 3 entries per request, 8 pages; entries past a request's pages are ignored.
  EXPECT_NO_THROW(validate_block_table(MlaConfig{16, 1, 16, MlaKvDtype::bf16}, 2, 3, 8,
                                       std::vector<std::int32_t>{7, 0, 1 << 30, 3, -1, -1},
                                       std::vector<std::int32_t>{20, 16}));
  expect_table_error({7, 8, 0, 3, 0, 0}, {20, 16}, "block_table[0][1] = 8");
  expect_table_error({7, 0, 0, -1, 0, 0}, {20, 1}, "block_table[1][0] = -1");
  expect_table_error({7, 0, 0, 3, 0, 0}, {20, 49}, "cache_seqlens[1] = 49");
  expect_table_error({7, 0, 0, 3, 0, 0}, {-3, 1}, "cache_seqlens[0] = -3");
  expect_table_error({7, 0, 0}, {20, 1}, "block_table has 3 entries");
}

}  // namespace
}  // namespace shapejit::runtime
