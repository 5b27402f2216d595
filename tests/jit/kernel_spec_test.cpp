#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/jit/kernel_spec.hpp"

using shapejit::Errc;
using shapejit::Error;
using shapejit::jit::KernelSpec;

TEST(KernelSpec, CanonicalTextRoundTrips) {
  KernelSpec s;
  s.family = "quant";
  s.kernel = "per_token_group_quant";
  s.args = {"7168", "128", "256"};
  s.arch = "sm_90a";
  s.options = {"-lineinfo", "-DFOO=1"};
  EXPECT_EQ(s.canonical(), "quant/per_token_group_quant<7168,128,256>@sm_90a;-lineinfo;-DFOO=1");
  EXPECT_EQ(KernelSpec::parse(s.canonical()), s);
}

TEST(KernelSpec, ParseIgnoresSpacesAroundArguments) {
  const KernelSpec s = KernelSpec::parse("  gemm/fp8_gemm< 128 , true, shapejit::kernels::Foo >@sm_90a ");
  EXPECT_EQ(s.args, (std::vector<std::string>{"128", "true", "shapejit::kernels::Foo"}));
  EXPECT_EQ(s.canonical(), "gemm/fp8_gemm<128,true,shapejit::kernels::Foo>@sm_90a");
}

TEST(KernelSpec, InstanceNameIsTheQualifiedTemplate) {
  EXPECT_EQ(KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90a").instance_name(),
            "shapejit::kernels::per_token_group_quant<7168, 128, 256>");
}

TEST(KernelSpec, MalformedTextIsRejectedWithTheReason) {
  for (const char* bad : {"quant", "quant/x", "quant/x<1>", "quant/x<1>sm_90a", "quant/x<1>@gpu",
                          "quant/x<1,,2>@sm_90a", "quant/x<1>@sm_90a;", "9q/x<1>@sm_90a",
                          "quant/x<a b>@sm_90a", "quant/x<1;2>@sm_90a"}) {
    try {
      KernelSpec::parse(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_argument) << bad;
      EXPECT_NE(std::string(e.what()).find("bad kernel spec"), std::string::npos) << e.what();
    }
  }
}

TEST(KernelCatalog, UnknownFamilyKernelAndArityAreNamed) {
  auto message = [](const char* text) {
    try {
      shapejit::jit::find_kernel_definition(KernelSpec::parse(text));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("nosuch/k<1>@sm_90a").find("unknown kernel family 'nosuch'"), std::string::npos);
  EXPECT_NE(message("quant/nosuch<1>@sm_90a").find("unknown kernel 'nosuch'"), std::string::npos);
  EXPECT_NE(message("quant/per_token_group_quant<1>@sm_90a").find("takes 3 template arguments"),
            std::string::npos);
}

TEST(KernelCatalog, EveryEntryNamesAnEmbeddedHeader) {
  for (const auto& t : shapejit::jit::kernel_catalog()) {
    EXPECT_FALSE(t.family.empty());
    EXPECT_FALSE(t.header.empty()) << t.kernel;
  }
}
