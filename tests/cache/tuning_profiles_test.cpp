#include <gtest/gtest.h>

#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

TEST(KernelStoreTuning, RecordsPerConfigComeBackFastestFirst) {
  const auto dir = fresh_dir("tuning");
  const std::string shape = "{\"m\":4096,\"n\":7168,\"k\":2048}";
  {
    KernelStore store(dir / "k.db", quiet());
    store.put_tuning(tuning_row("", "gemm", shape, "{\"block_n\":128}", 90.0, 0, "h100"));
    store.put_tuning(tuning_row("", "gemm", shape, "{\"block_n\":160}", 70.0, 0, "h100"));
    store.put_tuning(tuning_row("", "gemm", shape, "{\"block_n\":112}", 80.0, 0, "h100"));
    store.put_tuning(tuning_row("", "gemm", shape, "{\"block_n\":160}", 60.0, 0, "h200"));
    store.put_tuning(tuning_row("", "gemm", "{\"m\":64}", "{\"block_n\":64}", 5.0, 0, "h100"));
    // Re-measuring a config replaces its record.
    store.put_tuning(tuning_row("", "gemm", shape, "{\"block_n\":128}", 65.0, 0, "h100"));
  }
  KernelStore store(dir / "k.db", quiet());
  const auto on_h100 = store.tuning_records("gemm", shape, "h100");
  ASSERT_EQ(on_h100.size(), 3u);
  EXPECT_EQ(on_h100[0].config_json, "{\"block_n\":128}");
  EXPECT_DOUBLE_EQ(on_h100[0].time_us, 65.0);
  EXPECT_EQ(on_h100[1].config_json, "{\"block_n\":160}");
  EXPECT_EQ(on_h100[2].config_json, "{\"block_n\":112}");
  EXPECT_GT(on_h100[0].measured_at, 0);
  EXPECT_EQ(store.tuning_records("gemm").size(), 5u);
  EXPECT_EQ(store.tuning_records("", "", "h200").size(), 1u);
  EXPECT_TRUE(store.tuning_records("mla").empty());
  const std::string key = tuning_key("gemm", shape, "{\"block_n\":160}", "h200");
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, tuning_key("gemm", shape, "{\"block_n\":160}", "h100"));
  ASSERT_TRUE(store.get_tuning(key));
  EXPECT_DOUBLE_EQ(store.get_tuning(key)->time_us, 60.0);
  // A caller's own key.
  store.put_tuning(tuning_row("custom", "moe", "{}", "{\"chunks\":4}", 3.0, 0, "h100"));
  ASSERT_TRUE(store.get_tuning("custom"));
  EXPECT_EQ(store.get_tuning("custom")->config_json, "{\"chunks\":4}");
  EXPECT_FALSE(store.get_tuning("absent"));
  EXPECT_EQ(store.stats().tuning_records, 6);
}

TEST(KernelStoreTuning, ProfilesByName) {
  const auto dir = fresh_dir("profiles");
  KernelStore store(dir / "k.db", quiet());
  store.put_profile("prefill", "{\"sms\":24}");
  store.put_profile("decode", "{\"sms\":0}");
  store.put_profile("prefill", "{\"sms\":20}");
  EXPECT_EQ(store.profile("prefill"), "{\"sms\":20}");
  EXPECT_FALSE(store.profile("absent"));
  const auto all = store.profiles();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "decode");
  EXPECT_EQ(all[1].name, "prefill");
  EXPECT_GT(all[1].created, 0);
}

TEST(KernelStoreTuning, MemoryOnlyStoreKeepsTuningAndProfiles) {
  std::string why;
  KernelStore store("/proc/shapejit-cannot-exist/k.db", quiet(&why));
  ASSERT_FALSE(store.persistent());
  store.put_tuning(tuning_row("", "gemm", "{}", "{\"a\":1}", 2.0, 0, "d"));
  store.put_profile("p", "{}");
  EXPECT_EQ(store.tuning_records("gemm").size(), 1u);
  EXPECT_EQ(store.profile("p"), "{}");
  EXPECT_EQ(count_lines(why), 1);
}
