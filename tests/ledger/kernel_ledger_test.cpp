// The ledger file: the hash function, reading, appending without duplicates, and malformed
// files rejected naming the line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "kernel_ledger.hpp"
#include "shapejit/error.hpp"

namespace shapejit::cli {
namespace {

namespace fs = std::filesystem;

struct TempFile {
  fs::path path = fs::temp_directory_path() /
                  ("ledger-test-" + std::to_string(::getpid()) + "-" +
                   ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".tsv");
  TempFile() { fs::remove(path); }
  ~TempFile() { fs::remove(path); }
  void write(const std::string& text) const { std::ofstream(path, std::ios::binary) << text; }
};

std::string error_of(const fs::path& path) {
  try {
    read_ledger(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

LedgerRow row(const std::string& spec, char hash_digit) {
  return {spec, std::string(32, hash_digit), "13.0 (CL-1)", "NVIDIA H100 80GB HBM3", "2026-11-23",
          "328f7d7128e9eb52fd8d8c29eb9bb3257c377b6a"};
}

TEST(KernelLedger, CubinHashIsXxh3_128OfTheBytesHighHalfFirst) {
  // Reference values from the xxHash reference implementation (XXH3_128bits, canonical form).
  const std::string abc = "abc";
  EXPECT_EQ(cubin_hash({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()}),
            "06b05ab6733a618578af5f94892f3950");
  EXPECT_EQ(cubin_hash({}), "99aa06d3014798d86001c324468d497f");
}

TEST(KernelLedger, AppendsOnlyRowsItLacksAndReadsThemBack) {
  TempFile f;
  const LedgerRow a = row("quant/per_token_group_quant<7168,128,256>@sm_90a", 'a');
  const LedgerRow b = row("mla/mla_decode_split<128,2,64,false,132>@sm_90a", 'b');
  const LedgerRow a_again = row(a.spec, 'a');
  const LedgerRow a_rebuilt = row(a.spec, 'c');   // same spec, another cubin: a new row
  EXPECT_EQ(append_ledger(f.path, std::vector{a, b}), 2);
  EXPECT_EQ(append_ledger(f.path, std::vector{a_again, b}), 0);
  EXPECT_EQ(append_ledger(f.path, std::vector{a_again, a_rebuilt, a_rebuilt}), 1);
  const auto rows = read_ledger(f.path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].spec, a.spec);
  EXPECT_EQ(rows[1].cubin_hash, b.cubin_hash);
  EXPECT_EQ(rows[2].cubin_hash, a_rebuilt.cubin_hash);
  EXPECT_EQ(rows[2].device, "NVIDIA H100 80GB HBM3");
  std::ifstream in(f.path);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, kLedgerHeader);
}

TEST(KernelLedger, AppendsAfterALastLineWithoutNewline) {
  TempFile f;
  const LedgerRow a = row("quant/per_token_group_quant<512,128,256>@sm_90a", 'a');
  f.write(std::string(kLedgerHeader) + "\n" + a.spec + "\t" + a.cubin_hash + "\t" + a.nvrtc + "\t" +
          a.device + "\t" + a.date + "\t" + a.commit);
  EXPECT_EQ(append_ledger(f.path, std::vector{row("moe/moe_combine<7168,8>@sm_90a", 'd')}), 1);
  EXPECT_EQ(read_ledger(f.path).size(), 2u);
}

TEST(KernelLedger, RejectsMalformedFilesNamingTheLine) {
  TempFile f;
  f.write("spec\thash\n");
  EXPECT_NE(error_of(f.path).find(":1: expected the header"), std::string::npos) << error_of(f.path);
  const std::string h = std::string(kLedgerHeader) + "\n";
  f.write(h + "a/b<1>@sm_90a\t" + std::string(32, 'a') + "\tnvrtc\tgpu\t2026-11-23\n");
  EXPECT_NE(error_of(f.path).find(":2: 5 tab-separated fields"), std::string::npos) << error_of(f.path);
  f.write(h + "a/b<1>@sm_90a\tABC\tnvrtc\tgpu\t2026-11-23\tabc\n");
  EXPECT_NE(error_of(f.path).find(":2: cubin_xxh3_128 'ABC'"), std::string::npos) << error_of(f.path);
  f.write(h + "\t" + std::string(32, 'a') + "\tnvrtc\tgpu\t2026-11-23\tabc\n");
  EXPECT_NE(error_of(f.path).find("field 'spec' is empty"), std::string::npos) << error_of(f.path);
  f.write("");
  EXPECT_NE(error_of(f.path).find("empty file"), std::string::npos) << error_of(f.path);
  EXPECT_NE(error_of(f.path.string() + ".absent").find("cannot read"), std::string::npos);
}

TEST(KernelLedger, RefusesToAppendARowItCouldNotReadBack) {
  TempFile f;
  LedgerRow bad = row("a/b<1>@sm_90a", 'a');
  bad.device = "two\twords";
  EXPECT_THROW(append_ledger(f.path, std::vector{bad}), Error);
  EXPECT_FALSE(fs::exists(f.path));
}

TEST(KernelLedger, NamesTheKernelsNoRowHolds) {
  const std::vector<LedgerRow> ledger = {row("x/k<1>@sm_90a", 'a'), row("x/k<2>@sm_90a", 'b')};
  const std::vector<HashedKernel> set = {{"x/k<1>@sm_90a", std::string(32, 'a')},
                                         {"x/k<2>@sm_90a", std::string(32, 'c')},
                                         {"x/k<3>@sm_90a", std::string(32, 'a')}};
  const auto missing = unproven_kernels(ledger, set);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].kernel.spec, "x/k<2>@sm_90a");
  EXPECT_EQ(missing[0].reason, "cubin differs from the proven one");
  EXPECT_EQ(missing[1].kernel.spec, "x/k<3>@sm_90a");
  EXPECT_EQ(missing[1].reason, "never proven");
}

}  // namespace
}  // namespace shapejit::cli
