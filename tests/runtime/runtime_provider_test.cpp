#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "shapejit/runtime/quant.hpp"
#include "shapejit/runtime/runtime.hpp"

using namespace shapejit::runtime;
namespace fs = std::filesystem;

namespace {
fs::path fresh_db(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("shapejit-rt-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir / "kernels.db";
}
RuntimeOptions opts(const fs::path& db) {
  RuntimeOptions o;
  o.cache_path = db;
  o.jobs = 2;
  return o;
}
}  // namespace

TEST(RuntimeProvider, ConcurrentRequestsForOneKeyCompileOnce) {
  Runtime rt(opts(fresh_db("flight")));
  const auto spec = quant_fp8_spec(7168, 64, "sm_90a");
  std::vector<std::thread> threads;
  std::vector<const void*> results(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { results[i] = rt.cubin(spec).get(); });
  for (auto& t : threads) t.join();
  for (auto* r : results) EXPECT_EQ(r, results[0]);
  EXPECT_EQ(rt.stats().compiles, 1);
}

TEST(RuntimeProvider, SecondRuntimeHitsTheDatabase) {
  const fs::path db = fresh_db("hit");
  const auto spec = quant_fp8_spec(1536, 128, "sm_90a");
  {
    Runtime rt(opts(db));
    EXPECT_EQ(rt.fetch(spec).source, CubinSource::compiled);
    EXPECT_EQ(rt.fetch(spec).source, CubinSource::memory);
  }
  Runtime rt(opts(db));
  const CubinLookup hit = rt.fetch(spec);
  EXPECT_EQ(hit.source, CubinSource::cache);
  EXPECT_FALSE(hit.result->cubin.empty());
  EXPECT_FALSE(hit.result->lowered_name.empty());
}

TEST(RuntimeProvider, CorruptCubinIsRecompiledAndReplaced) {
  const fs::path db = fresh_db("heal");
  const auto spec = quant_fp8_spec(4096, 128, "sm_90a");
  std::vector<std::uint8_t> good;
  {
    Runtime rt(opts(db));
    good = rt.cubin(spec)->cubin;
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE kernels SET cubin = zeroblob(length(cubin))", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  {
    Runtime rt(opts(db));
    const CubinLookup r = rt.fetch(spec);
    EXPECT_EQ(r.source, CubinSource::compiled);   // never the damaged bytes
    ASSERT_EQ(r.result->cubin.size(), good.size());
    EXPECT_EQ(std::string(r.result->cubin.begin() + 1, r.result->cubin.begin() + 4), "ELF");
  }
  Runtime rt(opts(db));
  EXPECT_EQ(rt.fetch(spec).source, CubinSource::cache);   // the good kernel replaced it
}

TEST(RuntimeProvider, UnusableCachePathFallsBackToMemory) {
  RuntimeOptions o = opts("/proc/shapejit-no-such-dir/kernels.db");
  Runtime rt(o);
  const auto spec = quant_fp8_spec(512, 128, "sm_90a");
  EXPECT_FALSE(rt.cubin(spec)->cubin.empty());
  EXPECT_NE(rt.stats().cache_status.find("memory only"), std::string::npos) << rt.stats().cache_status;
}
