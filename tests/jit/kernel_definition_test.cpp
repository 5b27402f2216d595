// Kernel definitions: specs built and read by parameter name, checked against the allowed
// values and rules, rendered positionally for keys and with names for people.
#include <gtest/gtest.h>

#include <set>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"

using shapejit::Errc;
using shapejit::Error;
using namespace shapejit::jit;

namespace {

constexpr const char* kFp8 =
    "gemm/sm90_fp8_gemm_1d2d<0,7168,2048,128,128,5,1,false,128,132,0,1>@sm_90a";
constexpr const char* kFp8Named =
    "gemm/sm90_fp8_gemm_1d2d<SHAPE_M=0,SHAPE_N=7168,SHAPE_K=2048,BLOCK_M=128,BLOCK_N=128,"
    "kNumStages=5,kNumMulticast=1,kMulticastOnA=false,kSwizzleDBytes=128,NUM_SMS=132,"
    "kGemmType=normal,kNumGroups=1>@sm_90a";

std::string error_of(const std::string& text) {
  try {
    resolve_spec(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
    return e.what();
  }
  return "accepted";
}

const KernelDefinition& fp8() { return find_kernel_definition("gemm", "sm90_fp8_gemm_1d2d"); }

NamedValues fp8_values() {
  return {{"SHAPE_M", 0},       {"SHAPE_N", 7168},      {"SHAPE_K", 2048},
          {"BLOCK_M", 128},     {"BLOCK_N", 128},       {"kNumStages", 5},
          {"kNumMulticast", 1}, {"kMulticastOnA", 0},   {"kSwizzleDBytes", 128},
          {"NUM_SMS", 132},     {"kGemmType", 0},       {"kNumGroups", 1}};
}

}  // namespace

TEST(KernelDefinition, NamedAndPositionalSpecsAreTheSameKernel) {
  EXPECT_EQ(resolve_spec(kFp8Named).canonical(), kFp8);
  EXPECT_EQ(resolve_spec(kFp8).canonical(), kFp8);
  EXPECT_EQ(fp8().spec(fp8_values()).canonical(), kFp8);
  // Any order of names, enum by value or by name.
  EXPECT_EQ(resolve_spec("quant/per_token_group_quant<THREADS=256,K=7168,GROUP_SIZE=128>@sm_90a")
                .canonical(),
            "quant/per_token_group_quant<7168,128,256>@sm_90a");
}

TEST(KernelDefinition, DescribeNamesEveryParameter) {
  EXPECT_EQ(describe_spec(std::string(kFp8)), kFp8Named);
  auto masked = fp8_values();
  masked[10].second = 2;
  masked[11].second = 8;
  EXPECT_NE(describe_spec(fp8().spec(masked)).find("kGemmType=masked,kNumGroups=8"),
            std::string::npos);
  // Not a kernel of this build: shown as stored.
  EXPECT_EQ(describe_spec(std::string("gone/k<1>@sm_90a")), "gone/k<1>@sm_90a");
}

TEST(KernelDefinition, BadValuesNameTheParameterAndTheRule) {
  auto bad = [&](const char* name, long long value) {
    auto v = fp8_values();
    for (auto& [n, x] : v)
      if (n == name) x = value;
    try {
      fp8().spec(v);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(bad("BLOCK_N", 100).find("BLOCK_N = 100 must be a multiple of 16 in [16, 160]"),
            std::string::npos);
  EXPECT_NE(bad("BLOCK_M", 96).find("BLOCK_M = 96 must be one of 64, 128"), std::string::npos);
  EXPECT_NE(bad("SHAPE_K", 100).find("SHAPE_K"), std::string::npos);
  EXPECT_NE(bad("kGemmType", 3).find("kGemmType = 3 must be one of normal (0), contiguous (1), masked (2)"),
            std::string::npos);
  EXPECT_NE(bad("kNumGroups", 4).find("kNumGroups is 1 unless kGemmType is masked"),
            std::string::npos);
  auto pair = fp8_values();
  pair[6].second = 2;
  pair[9].second = 133;
  EXPECT_THROW(fp8().spec(pair), Error);
  EXPECT_EQ(bad("BLOCK_N", 64), "accepted");
}

TEST(KernelDefinition, NamedSpecErrorsNameTheParameter) {
  EXPECT_NE(error_of("quant/per_token_group_quant<K=7168,GROUP_SIZE=128>@sm_90a")
                .find("no value for THREADS"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<K=7168,GROUP_SIZE=128,THREADZ=256>@sm_90a")
                .find("no parameter 'THREADZ'"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<K=7168,K=128,THREADS=256>@sm_90a").find("given twice"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<K=7168,128,256>@sm_90a").find("name every argument"),
            std::string::npos);
  EXPECT_NE(error_of("gemm/sm90_bf16_gemm<0,4096,7168,64,128,4,1,maybe,128,132,false>@sm_90a")
                .find("kMulticastOnA = 'maybe' must be true or false"),
            std::string::npos);
}

TEST(KernelDefinition, RawSpecsGetTheShapeChecksOfOps) {
  // Compiled before definitions checked values: a zero-thread block and a ragged K.
  EXPECT_NE(error_of("quant/per_token_group_quant<7168,128,0>@sm_90a").find("THREADS = 0"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<7000,128,256>@sm_90a")
                .find("K is a multiple of GROUP_SIZE"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<0x1C00,128,256>@sm_90a").find("K = '0x1C00'"),
            std::string::npos);
  EXPECT_NE(error_of("mla/mla_decode_split<128,2,48,false,132>@sm_90a").find("PAGE_SIZE = 48"),
            std::string::npos);
}

TEST(KernelDefinition, ParametersGiveTheTunersSearchSpace) {
  std::vector<long long> block_n;
  for (long long n = 16; n <= 160; n += 16) block_n.push_back(n);
  EXPECT_EQ(fp8().find("BLOCK_N")->values(), block_n);
  EXPECT_EQ(fp8().find("kMulticastOnA")->values(), (std::vector<long long>{0, 1}));
  EXPECT_EQ(fp8().find("kGemmType")->values(), (std::vector<long long>{0, 1, 2}));
  EXPECT_TRUE(fp8().find("SHAPE_N")->values().empty());   // a problem size, not a search axis
}

TEST(KernelDefinition, EveryDefinitionIsWellFormed) {
  std::set<std::string> kernels;
  for (const auto& d : kernel_catalog()) {
    EXPECT_TRUE(kernels.insert(std::string(d.family) + "/" + std::string(d.kernel)).second)
        << d.kernel << " defined twice";
    EXPECT_FALSE(d.header.empty()) << d.kernel;
    EXPECT_FALSE(d.summary.empty()) << d.kernel;
    std::set<std::string_view> names;
    for (const auto& p : d.params) {
      EXPECT_TRUE(names.insert(p.name).second) << d.kernel << ": " << p.name << " twice";
      EXPECT_FALSE(p.meaning.empty()) << d.kernel << ": " << p.name;
      if (p.kind == ParamKind::integer && p.one_of.empty()) {
        EXPECT_LE(p.min, p.max) << d.kernel << ": " << p.name;
      }
    }
  }
}

TEST(KernelSpecText, OnlyKnownTargetsAndAllowedOptionsPass) {
  // Options are data from manifests: nothing may make NVRTC read or write a host file.
  for (const char* hostile :
       {"quant/per_token_group_quant<512,128,256>@sm_90a;--pre-include=/etc/passwd",
        "quant/per_token_group_quant<512,128,256>@sm_90a;--time=/tmp/x",
        "quant/per_token_group_quant<512,128,256>@sm_90a;-I/etc",
        "quant/per_token_group_quant<512,128,256>@sm_90a;--include-path=/etc",
        "quant/per_token_group_quant<512,128,256>@sm_90a;-DX=$(cat)",
        "quant/per_token_group_quant<512,128,256>@sm_90a;--fdevice-time-trace=/tmp/t",
        "quant/per_token_group_quant<512,128,256>@sm_90a;-maxrregcount=/etc"}) {
    EXPECT_NE(error_of(hostile).find("is not allowed"), std::string::npos) << hostile;
  }
  EXPECT_NE(error_of("quant/per_token_group_quant<512,128,256>@sm_99z").find("not a known target"),
            std::string::npos);
  EXPECT_NE(error_of("quant/per_token_group_quant<512,128,256>@sm_90a --pre-include=/etc/passwd")
                .find("not a known target"),
            std::string::npos);
  EXPECT_EQ(error_of("quant/per_token_group_quant<512,128,256>@sm_90a;-lineinfo;-DFOO=1;--ftz=true"),
            "accepted");
  EXPECT_THROW(check_arch("sm_90a;--time=x"), Error);
  EXPECT_NO_THROW(check_arch("sm_90a"));
}
