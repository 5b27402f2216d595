#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "shapejit/jit/compile_key.hpp"
#include "support/paths.hpp"

using namespace shapejit::jit;

namespace {
const char* kSpec = "quant/per_token_group_quant<7168,128,256>@sm_90a";
}

TEST(CompileKey, IsStableWithinAProcess) {
  const auto spec = KernelSpec::parse(kSpec);
  EXPECT_EQ(compile_key(spec), compile_key(spec));
  EXPECT_EQ(compile_key(spec).size(), 32u);
}

TEST(CompileKey, IsStableAcrossProcesses) {
  // The CLI runs in a fresh process; its "key:" line must equal this process's key.
  const std::string cmd = shapejit::testing::bin_dir() + "/shapejit compile '" + kSpec +
                          "' --emit log --in-process";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
  EXPECT_NE(out.find("key:           " + compile_key(KernelSpec::parse(kSpec))), std::string::npos) << out;
}

TEST(CompileKey, ChangesWithEveryInput) {
  const KeyParts base = key_parts(KernelSpec::parse(kSpec));
  const std::string k0 = compile_key(base);
  auto changed = [&](auto mutate) {
    KeyParts p = base;
    mutate(p);
    return compile_key(p);
  };
  EXPECT_NE(k0, changed([](KeyParts& p) { p.rendered_source += " "; }));
  EXPECT_NE(k0, changed([](KeyParts& p) { p.options += "-lineinfo\n"; }));
  EXPECT_NE(k0, changed([](KeyParts& p) { p.headers_hash[0] ^= 1; }));
  EXPECT_NE(k0, changed([](KeyParts& p) { p.compiler_identity += "x"; }));
  EXPECT_NE(k0, changed([](KeyParts& p) { ++p.format_version; }));
  // Field boundaries matter: moving a character between fields is a different key.
  EXPECT_NE(changed([](KeyParts& p) { p.options = "a"; p.headers_hash = "bc"; }),
            changed([](KeyParts& p) { p.options = "ab"; p.headers_hash = "c"; }));
}

TEST(CompileKey, SpecArgumentsArchAndOptionsReachTheKey) {
  const std::string k0 = compile_key(KernelSpec::parse(kSpec));
  EXPECT_NE(k0, compile_key(KernelSpec::parse("quant/per_token_group_quant<7168,64,256>@sm_90a")));
  EXPECT_NE(k0, compile_key(KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90")));
  EXPECT_NE(k0, compile_key(KernelSpec::parse("quant/per_token_group_quant<7168,128,256>@sm_90a;-lineinfo")));
}

TEST(CompileKey, PartsHoldTheCompilerIdentityAndHeadersHash) {
  const KeyParts p = key_parts(KernelSpec::parse(kSpec));
  EXPECT_NE(p.compiler_identity.find("(CL-"), std::string::npos) << p.compiler_identity;
  EXPECT_EQ(p.headers_hash.size(), 64u);
  EXPECT_NE(p.options.find("--gpu-architecture=sm_90a"), std::string::npos);
}
