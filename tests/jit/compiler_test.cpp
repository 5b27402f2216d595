#include <gtest/gtest.h>

#include "shapejit/error.hpp"
#include "shapejit/jit/compiler.hpp"
#include "shapejit/jit/embedded_templates.hpp"
#include "shapejit/jit/kernel_catalog.hpp"

using namespace shapejit;
using namespace shapejit::jit;

TEST(Compiler, CompilesAKernelForSm90aWithItsResourceReport) {
  const CompileResult r =
      compile_in_process(KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90a"), true);
  ASSERT_GT(r.cubin.size(), 1000u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(r.cubin.data()) + 1, 3), "ELF");
  EXPECT_NE(r.ptx.find(".target sm_90a"), std::string::npos);
  EXPECT_NE(r.lowered_name.find("per_token_group_quant"), std::string::npos);
  EXPECT_GT(r.registers, 0);
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
  EXPECT_GT(r.compile_ms, 0.0);
  EXPECT_NE(r.log.find("Used " + std::to_string(r.registers) + " registers"), std::string::npos);
}

TEST(Compiler, PtxIsOnlyProducedOnRequest) {
  const CompileResult r =
      compile_in_process(KernelSpec::parse("quant/per_token_group_quant<512,128,256>@sm_90a"), false);
  EXPECT_TRUE(r.ptx.empty());
  EXPECT_FALSE(r.cubin.empty());
}

TEST(Compiler, FailingTemplateRaisesCompileErrorWithLogAndSpec) {
  const auto spec = KernelSpec::parse("selftest/static_assert_fails<3>@sm_90a");
  try {
    compile_in_process(spec, false);
    FAIL() << "compiled";
  } catch (const CompileError& e) {
    EXPECT_EQ(e.code(), Errc::compile_failed);
    EXPECT_EQ(e.spec(), spec.canonical());
    EXPECT_NE(e.log().find("selftest: N must be negative"), std::string::npos) << e.log();
    EXPECT_NE(std::string(e.what()).find(spec.canonical()), std::string::npos);
  }
}

TEST(Compiler, RenderedSourceIncludesTheHeaderAndNamesTheInstance) {
  const RenderedSource r = render(KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90a;-lineinfo"));
  EXPECT_NE(r.source.find("#include \"quant/per_token_group_quant.cuh\""), std::string::npos);
  EXPECT_EQ(r.name_expression, "&shapejit::kernels::per_token_group_quant<7168, 128, 256>");
  EXPECT_EQ(r.options.front(), "--gpu-architecture=sm_90a");
  EXPECT_EQ(r.options.back(), "-lineinfo");
}

TEST(Compiler, EveryCatalogHeaderIsEmbedded) {
  for (const auto& t : kernel_catalog()) {
    bool found = false;
    for (const auto& f : embedded_templates()) found |= f.name == t.header;
    EXPECT_TRUE(found) << t.header << " is not embedded";
  }
}
