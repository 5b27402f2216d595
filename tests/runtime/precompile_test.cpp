// The library's pre-compile call (runtime/precompile.hpp) and the compile-worker lookup a host
// application relies on. The CLI's `precompile` command is tested end to end in tests/cli.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "shapejit/cache/kernel_store.hpp"
#include "shapejit/jit/compile_key.hpp"
#include "shapejit/runtime/precompile.hpp"
#include "shapejit/runtime/quant.hpp"
#include "support/paths.hpp"

using namespace shapejit;
using namespace shapejit::runtime;
namespace fs = std::filesystem;

namespace {
fs::path fresh_db(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("shapejit-pre-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir / "kernels.db";
}
PrecompileOptions opts(const fs::path& db) {
  PrecompileOptions o;
  o.runtime.cache_path = db;
  o.runtime.jobs = 2;
  return o;
}
}  // namespace

TEST(Precompile, CompilesEveryKernelIntoTheDatabaseThenHitsIt) {
  const fs::path db = fresh_db("fill");
  const std::vector<jit::KernelSpec> specs = {quant_fp8_spec(512, 128, "sm_90a"), quant_fp8_spec(1024, 128, "sm_90a")};
  PrecompileOptions o = opts(db);
  std::mutex mutex;
  std::set<std::size_t> done;
  o.on_progress = [&](std::size_t n, std::size_t total, const jit::KernelSpec&) {
    std::lock_guard lock(mutex);
    EXPECT_EQ(total, 2u);
    done.insert(n);
  };
  const PrecompileResult first = precompile(specs, o);
  EXPECT_TRUE(first.ok());
  EXPECT_EQ(first.total, 2u);
  EXPECT_EQ(first.compiled, 2u);
  EXPECT_EQ(first.cache_hits, 0u);
  EXPECT_GT(first.median_compile_ms, 0.0);
  EXPECT_EQ(first.cache_path, db);
  EXPECT_EQ(done, (std::set<std::size_t>{1, 2}));
  // What a later process finds: both keys in the file.
  cache::KernelStore store(db);
  for (const auto& s : specs) EXPECT_TRUE(store.get(jit::compile_key(s)).has_value()) << s.canonical();

  const PrecompileResult second = precompile(specs, opts(db));
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(second.compiled, 0u);
  EXPECT_EQ(second.cache_hits, 2u);
}

TEST(Precompile, AFailingKernelIsReportedAndTheOthersGoOn) {
  const fs::path db = fresh_db("fail");
  const PrecompileResult r = precompile(
      {jit::KernelSpec::parse("selftest/static_assert_fails<1>@sm_90a"), quant_fp8_spec(512, 64, "sm_90a")}, opts(db));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.compiled, 1u);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].code, Errc::compile_failed);
  EXPECT_NE(r.failures[0].spec.find("static_assert_fails"), std::string::npos) << r.failures[0].spec;
  EXPECT_EQ(r.failures[0].message.find('\n'), std::string::npos);   // one line
}

TEST(Precompile, ManifestAndModelKernelSets) {
  const fs::path db = fresh_db("manifest");
  const Manifest m = parse_manifest(R"({"kernels": [{"op": "quant_fp8", "k": 512}]})", default_target_device(), "test");
  const PrecompileResult r = precompile(m, opts(db));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.total, 1u);
  EXPECT_EQ(r.compiled, 1u);
  // The same kernel from a manifest file: already there.
  const fs::path file = db.parent_path() / "manifest.json";
  std::ofstream(file) << R"({"kernels": [{"op": "quant_fp8", "k": 512}, {"op": "quant_fp8", "k": 1536}]})";
  const PrecompileResult from_file = precompile_manifest(file, default_target_device(), opts(db));
  EXPECT_TRUE(from_file.ok());
  EXPECT_EQ(from_file.total, 2u);
  EXPECT_EQ(from_file.cache_hits, 1u);
  EXPECT_EQ(from_file.compiled, 1u);
  EXPECT_THROW(precompile_model("llama", default_target_device(), opts(db)), Error);

  EXPECT_FALSE(model_kernel_set("deepseek-v3", default_target_device()).empty());
  try {
    model_kernel_set("llama", default_target_device());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("deepseek-v3"), std::string::npos) << e.what();
  }
}

TEST(CompileWorkerLookup, FindsTheWorkerBesideTheExecutable) {
  if (std::getenv("SHAPEJIT_COMPILE_WORKER")) GTEST_SKIP() << "SHAPEJIT_COMPILE_WORKER is set";
  EXPECT_EQ(compile_worker_path(), fs::path(shapejit::testing::bin_dir()) / "shapejit-compile-worker");
}

TEST(CompileWorkerLookup, ANamedWorkerThatIsNotThereIsANamedError) {
  RuntimeOptions o;
  o.compile_worker = "/nonexistent/shapejit-compile-worker";
  o.use_cache = false;
  try {
    compile_worker_path(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::unsupported);
    EXPECT_NE(std::string(e.what()).find("RuntimeOptions::compile_worker"), std::string::npos) << e.what();
  }
  // The runtime uses it: its compiles fail with the same error, not with a worker found elsewhere.
  Runtime rt(o);
  EXPECT_THROW(rt.cubin(quant_fp8_spec(512, 128, "sm_90a")), Error);
}
