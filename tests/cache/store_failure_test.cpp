#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

TEST(KernelStoreFailure, UnwritableLocationWorksFromMemoryAndSaysWhyOnce) {
  std::string why;
  KernelStore store("/proc/shapejit-cannot-exist/k.db", quiet(&why));
  EXPECT_FALSE(store.persistent());
  store.put(record("x"));
  store.put(record("y"));
  EXPECT_TRUE(store.get("x"));
  EXPECT_EQ(std::count(why.begin(), why.end(), '\n'), 1) << why;
  EXPECT_NE(store.status().find("memory only"), std::string::npos);
}

TEST(KernelStoreFailure, FileThatIsNotADatabaseIsLeftUntouched) {
  const auto dir = fresh_dir("notadb");
  const auto path = dir / "k.db";
  const std::string content(4096, 'z');
  { std::ofstream(path) << content; }
  std::string why;
  KernelStore store(path, quiet(&why));
  EXPECT_FALSE(store.persistent());
  EXPECT_NE(why.find("not a SQLite database"), std::string::npos) << why;
  store.put(record("x"));
  EXPECT_TRUE(store.get("x"));
  std::ifstream in(path);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, content);
}

TEST(KernelStoreFailure, LockedPastTheTimeoutSkipsTheWriteAndKeepsWorking) {
  const auto dir = fresh_dir("locked");
  const auto path = dir / "k.db";
  { KernelStore init(path, quiet()); init.put(record("before")); }
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string why;
  KernelStore store(path, quiet(&why, 200));
  store.put(record("during"));
  EXPECT_TRUE(store.get("during"));   // served from memory
  EXPECT_NE(why.find("locked past the 200 ms timeout"), std::string::npos) << why;
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
}

TEST(KernelStoreFailure, ReadOnlyFileServesHitsAndTakesNoWrites) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions; run as a normal user to check read-only files";
  const auto dir = fresh_dir("readonly");
  const auto path = dir / "k.db";
  { KernelStore init(path, quiet()); init.put(record("r")); }
  ::chmod(path.c_str(), 0444);
  std::string why;
  KernelStore store(path, quiet(&why));
  EXPECT_TRUE(store.get("r"));
  store.put(record("new"));
  EXPECT_TRUE(store.get("new"));
  EXPECT_NE(why.find("read-only"), std::string::npos) << why;
  ::chmod(path.c_str(), 0644);
}
