#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "shapejit/error.hpp"
#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

TEST(KernelStore, RoundTripsEveryField) {
  const auto dir = fresh_dir("roundtrip");
  KernelStore store(dir / "k.db", quiet());
  ASSERT_TRUE(store.persistent());
  ASSERT_TRUE(store.writable());
  KernelRecord r = record("a1");
  r.ptx = ".version 9.0\n.target sm_90a";
  r.spill_store_bytes = 4;
  r.spill_load_bytes = 8;
  r.stack_frame_bytes = 16;
  r.static_smem_bytes = 1024;
  r.registers = 168;
  r.compile_ms = 12.5;
  store.put(r);
  const auto got = store.get("a1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->cubin, r.cubin);
  EXPECT_EQ(got->ptx, r.ptx);
  EXPECT_EQ(got->log, r.log);
  EXPECT_EQ(got->spec, r.spec);
  EXPECT_EQ(got->family, "quant");
  EXPECT_EQ(got->arch, "sm_90a");
  EXPECT_EQ(got->lowered_name, r.lowered_name);
  EXPECT_EQ(got->registers, 168);
  EXPECT_EQ(got->spill_store_bytes, 4);
  EXPECT_EQ(got->spill_load_bytes, 8);
  EXPECT_EQ(got->stack_frame_bytes, 16);
  EXPECT_EQ(got->static_smem_bytes, 1024);
  EXPECT_DOUBLE_EQ(got->compile_ms, 12.5);
  EXPECT_EQ(got->bytes, static_cast<std::int64_t>(r.cubin.size() + r.ptx.size() + r.log.size()));
  EXPECT_GT(got->created, 0);
  EXPECT_FALSE(store.get("missing"));
  const auto c = store.counters();
  EXPECT_EQ(c.hits, 1);
  EXPECT_EQ(c.misses, 1);
  EXPECT_EQ(c.stores, 1);
  EXPECT_TRUE(c.bypasses.empty());
  EXPECT_NE(store.status().find("(wal)"), std::string::npos) << store.status();
  // A second instance (a later process) sees the same kernel.
  KernelStore again(dir / "k.db", quiet());
  ASSERT_TRUE(again.get("a1"));
  EXPECT_EQ(again.get("a1")->cubin, r.cubin);
}

TEST(KernelStore, ChecksumMismatchIsAMissAndIsHealedByTheNextPut) {
  const auto dir = fresh_dir("corrupt");
  {
    KernelStore store(dir / "k.db", quiet());
    store.put(record("good"));
    store.put(record("bad"));
  }
  {
    RawDb raw(dir / "k.db");
    // Flip one byte in the middle of the stored cubin, keeping it a blob of the same size.
    ASSERT_EQ(raw.exec("UPDATE kernels SET cubin = CAST(substr(cubin, 1, 500) || x'00' || substr(cubin, 502) AS BLOB) "
                       "WHERE key = 'bad'"),
              SQLITE_OK);
    ASSERT_EQ(raw.integer("SELECT length(cubin) FROM kernels WHERE key = 'bad'"), 1000);
  }
  std::string corrupt_log;
  StoreOptions o = quiet();
  o.on_corrupt = [&](const std::string& m) { corrupt_log += m + "\n"; };
  KernelStore store(dir / "k.db", o);
  EXPECT_EQ(store.verify(false), std::vector<std::string>{"bad"});
  EXPECT_EQ(store.list().size(), 2u) << "verify without repair deletes nothing";
  EXPECT_FALSE(store.get("bad"));   // never the damaged kernel
  EXPECT_EQ(store.counters().corrupt, 2);   // once by verify, once by get
  EXPECT_NE(corrupt_log.find("bad"), std::string::npos) << corrupt_log;
  EXPECT_EQ(store.list().size(), 1u) << "the damaged row is deleted by the read";
  EXPECT_TRUE(store.get("good"));
  store.put(record("bad"));
  ASSERT_TRUE(store.get("bad"));
  EXPECT_EQ(store.get("bad")->cubin, record("bad").cubin);
  EXPECT_TRUE(store.verify(false).empty());
}

TEST(KernelStore, VerifyRepairRemovesOnlyTheCorruptEntries) {
  const auto dir = fresh_dir("repair");
  KernelStore store(dir / "k.db", quiet());
  for (int i = 0; i < 5; ++i) store.put(record("r" + std::to_string(i)));
  {
    RawDb raw(dir / "k.db");
    ASSERT_EQ(raw.exec("UPDATE kernels SET checksum = '00000000000000000000000000000000' WHERE key IN ('r1', 'r3')"),
              SQLITE_OK);
  }
  EXPECT_EQ(store.verify(true), (std::vector<std::string>{"r1", "r3"}));
  EXPECT_TRUE(store.verify(false).empty());
  EXPECT_EQ(store.list().size(), 3u);
}

TEST(KernelStore, LastUsedStampIsRewrittenOnlyWhenOlderThanTheInterval) {
  const auto dir = fresh_dir("touch");
  std::int64_t now = 1'000'000;
  StoreOptions o = quiet();
  o.clock = [&] { return now; };
  o.touch_interval_s = 60;
  KernelStore store(dir / "k.db", o);
  store.put(record("t"));
  RawDb raw(dir / "k.db");
  const std::string stamp = "SELECT last_used FROM kernels WHERE key = 't'";
  EXPECT_EQ(raw.integer(stamp), 1'000'000);
  now += 59;
  ASSERT_TRUE(store.get("t"));
  EXPECT_EQ(raw.integer(stamp), 1'000'000) << "a hit within the interval writes nothing";
  now += 1;
  ASSERT_TRUE(store.get("t"));
  EXPECT_EQ(raw.integer(stamp), 1'000'060);
}

TEST(KernelStore, GcEvictsLeastRecentlyUsedFirst) {
  const auto dir = fresh_dir("lru");
  std::int64_t now = 1'000'000;
  StoreOptions o = quiet();
  o.clock = [&] { return now; };
  KernelStore store(dir / "k.db", o);
  for (int i = 0; i < 5; ++i) {
    store.put(record("k" + std::to_string(i)));   // k0 oldest ... k4 newest
    now += 100;
  }
  ASSERT_TRUE(store.get("k0"));   // used again: now the most recent
  now += 10;
  ASSERT_TRUE(store.get("k2"));   // and then k2
  const long long per = store.list().front().bytes;
  EXPECT_EQ(store.gc(3 * per), 2);   // k1 and k3 go, in that order
  std::vector<std::string> left;
  for (const auto& r : store.list()) left.push_back(r.key);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"k0", "k2", "k4"}));
  EXPECT_EQ(store.gc(per), 2);       // then k4, then k0 (k2 was used last)
  ASSERT_EQ(store.list().size(), 1u);
  EXPECT_EQ(store.list().front().key, "k2");
  EXPECT_EQ(store.counters().evictions, 4);
  EXPECT_EQ(store.gc(0), 1);
  EXPECT_EQ(store.stats().entries, 0);
  EXPECT_THROW(store.gc(-1), shapejit::Error);
}

TEST(KernelStore, SizeBoundEvictsAfterInsertsButNeverTheKernelJustStored) {
  const auto dir = fresh_dir("bound");
  std::int64_t now = 1'000'000;
  StoreOptions o = quiet();
  o.clock = [&] { return now; };
  const std::int64_t per = static_cast<std::int64_t>(record("b0").cubin.size() + record("b0").log.size());
  o.max_bytes = 3 * per + per / 2;   // room for three
  KernelStore store(dir / "k.db", o);
  for (int i = 0; i < 6; ++i) {
    store.put(record("b" + std::to_string(i)));
    now += 10;
  }
  EXPECT_LE(store.stats().bytes, o.max_bytes);
  EXPECT_EQ(store.stats().entries, 3);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(store.get("b" + std::to_string(i))) << i;
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(store.get("b" + std::to_string(i))) << i;
  EXPECT_EQ(store.counters().evictions, 3);
  // One kernel larger than the whole bound stays (else it would be recompiled forever).
  store.put(record("huge", 10 * static_cast<std::size_t>(per)));
  EXPECT_TRUE(store.get("huge"));
  EXPECT_EQ(store.stats().entries, 1);
}

TEST(KernelStore, EraseAndClear) {
  const auto dir = fresh_dir("clear");
  KernelStore store(dir / "k.db", quiet());
  for (int i = 0; i < 4; ++i) store.put(record("c" + std::to_string(i)));
  EXPECT_TRUE(store.erase("c0"));
  EXPECT_FALSE(store.erase("c0"));
  EXPECT_FALSE(store.get("c0"));
  EXPECT_EQ(store.clear(), 3);
  EXPECT_EQ(store.stats().entries, 0);
  EXPECT_FALSE(store.get("c1"));
}

TEST(KernelStore, ListFiltersByFamilyAndArchAndCarriesNoBlobs) {
  const auto dir = fresh_dir("list");
  KernelStore store(dir / "k.db", quiet());
  store.put(record("q1", 100, "quant"));
  store.put(record("g1", 100, "gemm"));
  KernelRecord other = record("g2", 100, "gemm");
  other.arch = "sm_100a";
  store.put(other);
  EXPECT_EQ(store.list().size(), 3u);
  EXPECT_EQ(store.list("gemm").size(), 2u);
  EXPECT_EQ(store.list("gemm", "sm_100a").size(), 1u);
  EXPECT_EQ(store.list("", "sm_90a").size(), 2u);
  EXPECT_TRUE(store.list("mla").empty());
  for (const auto& r : store.list()) {
    EXPECT_TRUE(r.cubin.empty());
    EXPECT_GT(r.bytes, 0);
  }
  const StoreStats s = store.stats();
  EXPECT_EQ(s.entries, 3);
  EXPECT_EQ(s.entries_per_family.at("gemm"), 2);
  EXPECT_EQ(s.entries_per_family.at("quant"), 1);
  EXPECT_EQ(s.bytes_per_family.at("quant"), store.list("quant").front().bytes);
  EXPECT_EQ(s.journal_mode, "wal");
  EXPECT_EQ(s.schema_version, kSchemaVersion);
  EXPECT_TRUE(s.persistent);
  EXPECT_TRUE(s.writable);
  EXPECT_GT(s.file_bytes, 0);
  EXPECT_EQ(s.path, (dir / "k.db").string());
}

TEST(KernelStore, ManyThreadsShareOneStore) {
  const auto dir = fresh_dir("threads");
  KernelStore store(dir / "k.db", quiet());
  constexpr int kThreads = 8, kKeys = 30;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = "t" + std::to_string((i + t * 3) % kKeys);
        if (auto hit = store.get(key)) {
          if (hit->cubin != record(key, 500).cubin) ++wrong;
        } else {
          store.put(record(key, 500));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(store.list().size(), static_cast<std::size_t>(kKeys));
  EXPECT_TRUE(store.verify(false).empty());
  const auto c = store.counters();
  EXPECT_EQ(c.hits + c.misses, kThreads * kKeys);
  EXPECT_TRUE(c.bypasses.empty());
}
