// The store never takes its host down: every way the file can fail ends in a working store,
// one message, and a file that is left as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "shapejit/cache/recovery.hpp"
#include "shapejit/error.hpp"
#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

#define CHILD_CHECK(cond)                                                     \
  do {                                                                        \
    if (!(cond)) return std::string("check failed: " #cond " (line ") +       \
                        std::to_string(__LINE__) + "); messages: " + why;     \
  } while (0)

}  // namespace

TEST(KernelStoreFailure, UncreatableLocationWorksFromMemoryAndSaysWhyOnce) {
  std::string why;
  KernelStore store("/proc/shapejit-cannot-exist/k.db", quiet(&why));
  EXPECT_FALSE(store.persistent());
  store.put(record("x"));
  store.put(record("y"));
  EXPECT_TRUE(store.get("x"));
  EXPECT_FALSE(store.get("z"));
  EXPECT_EQ(count_lines(why), 1) << why;
  EXPECT_EQ(store.bypass_reason(), kReasonCannotOpen);
  EXPECT_NE(store.status().find("memory only"), std::string::npos);
  EXPECT_EQ(store.counters().bypasses.at(kReasonCannotOpen), 4);
  EXPECT_EQ(store.stats().entries, 2);
}

TEST(KernelStoreFailure, FileThatIsNotADatabaseIsLeftUntouched) {
  const auto dir = fresh_dir("notadb");
  const auto path = dir / "k.db";
  std::string content;
  for (int i = 0; i < 4096; ++i) content += static_cast<char>('a' + i % 26);
  { std::ofstream(path, std::ios::binary) << content; }
  const auto mtime = fs::last_write_time(path);
  std::string why;
  {
    KernelStore store(path, quiet(&why));
    EXPECT_FALSE(store.persistent());
    EXPECT_EQ(store.bypass_reason(), kReasonCorruptHeader);
    EXPECT_NE(why.find("not a SQLite database"), std::string::npos) << why;
    store.put(record("x"));
    EXPECT_TRUE(store.get("x"));
    EXPECT_EQ(store.counters().bypasses.at(kReasonCorruptHeader), 2);
    EXPECT_THROW(store.verify(false), shapejit::Error);
    EXPECT_THROW(store.import_from(path), shapejit::Error);
  }
  EXPECT_EQ(count_lines(why), 1) << why;
  EXPECT_EQ(file_bytes(path), content);
  EXPECT_EQ(fs::last_write_time(path), mtime);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"k.db"}) << "no journal or WAL left beside it";
}

TEST(KernelStoreFailure, LockedPastTheTimeoutSendsWritesToMemoryWithoutWaitingAgain) {
  const auto dir = fresh_dir("locked");
  const auto path = dir / "k.db";
  { KernelStore init(path, quiet()); init.put(record("before")); }
  RawDb holder(path);
  ASSERT_EQ(holder.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
  std::string why;
  KernelStore store(path, quiet(&why, 200));
  ASSERT_TRUE(store.writable()) << why;
  store.put(record("during"));
  EXPECT_NE(why.find("locked past the 200 ms timeout"), std::string::npos) << why;
  EXPECT_EQ(store.bypass_reason(), kReasonLocked);
  EXPECT_FALSE(store.writable());
  // Later puts go straight to memory instead of waiting out the timeout each time.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) store.put(record("later" + std::to_string(i)));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, std::chrono::milliseconds(150));
  EXPECT_TRUE(store.get("during"));
  EXPECT_TRUE(store.get("later4"));
  EXPECT_TRUE(store.get("before")) << "a WAL reader is not blocked: hits still come from the file";
  EXPECT_EQ(store.counters().bypasses.at(kReasonLocked), 6);
  EXPECT_EQ(count_lines(why), 1) << why;
  holder.exec("ROLLBACK");
}

TEST(KernelStoreFailure, HitsNeverWaitForAnotherWriter) {
  const auto dir = fresh_dir("hit-no-wait");
  const auto path = dir / "k.db";
  std::int64_t now = 1'000'000;
  StoreOptions o = quiet(nullptr, 5000);
  o.clock = [&] { return now; };
  KernelStore store(path, o);
  store.put(record("h"));
  now += 3600;   // the hit wants to rewrite the last-used stamp
  RawDb holder(path);
  ASSERT_EQ(holder.exec("BEGIN IMMEDIATE"), SQLITE_OK);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(store.get("h"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_TRUE(store.writable()) << "a skipped stamp is not a failure";
  holder.exec("ROLLBACK");
}

TEST(KernelStoreFailure, ReadOnlyFileServesHitsKeepsNewKernelsInMemoryAndSaysWhyOnce) {
  const auto dir = fresh_dir("readonly-file");
  const auto path = dir / "k.db";
  { KernelStore init(path, quiet()); init.put(record("r")); }
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);   // only the file is read-only
  const std::string before = file_bytes(path);
  const std::string failure = run_unprivileged([&]() -> std::string {
    std::string why;
    KernelStore store(path, quiet(&why));
    CHILD_CHECK(store.persistent() && !store.writable());
    CHILD_CHECK(store.bypass_reason() == kReasonReadOnly);
    CHILD_CHECK(store.get("r") && store.get("r")->cubin == record("r").cubin);
    store.put(record("new"));
    store.put(record("new2"));
    CHILD_CHECK(store.get("new") && store.get("new")->cubin == record("new").cubin);
    CHILD_CHECK(store.counters().bypasses.at(kReasonReadOnly) == 2);
    CHILD_CHECK(why.find("read-only") != std::string::npos);
    CHILD_CHECK(count_lines(why) == 1);
    bool threw = false;
    try { store.clear(); } catch (const shapejit::Error&) { threw = true; }
    CHILD_CHECK(threw);
    return "";
  });
  ::chmod(path.c_str(), 0644);
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(failure, "");
  EXPECT_EQ(file_bytes(path), before);
}

TEST(KernelStoreFailure, ReadOnlyDirectoryServesHitsFromAWalDatabaseAndSaysWhyOnce) {
  // Read-only storage holding a normal (WAL) cache: no -shm can be made there, yet the hits and
  // the read-only maintenance calls must work.
  const auto dir = fresh_dir("readonly-dir");
  const auto path = dir / "k.db";
  { KernelStore init(path, quiet()); init.put(record("r")); }
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);   // the file could be written, its directory not
  ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
  ASSERT_EQ(RawDb(path).text("PRAGMA journal_mode"), "wal");
  const std::string before = file_bytes(path);
  const auto listing = files_in(dir);
  const std::string failure = run_unprivileged([&]() -> std::string {
    std::string why;
    KernelStore store(path, quiet(&why));
    CHILD_CHECK(!store.writable());
    CHILD_CHECK(store.bypass_reason() == kReasonReadOnly);
    CHILD_CHECK(why.find("is not writable") != std::string::npos);
    CHILD_CHECK(store.persistent());
    auto hit = store.get("r");
    CHILD_CHECK(hit && hit->cubin == record("r").cubin);
    CHILD_CHECK(store.list().size() == 1);
    CHILD_CHECK(store.verify(false).empty());
    store.put(record("new"));
    CHILD_CHECK(store.get("new") && store.get("new")->cubin == record("new").cubin);
    CHILD_CHECK(count_lines(why) == 1);
    return "";
  });
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(failure, "");
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(files_in(dir), listing);
}

TEST(KernelStoreFailure, DamagedPagesNeverGiveAWrongKernelOrAnExceptionFromGetAndPut) {
  const auto dir = fresh_dir("damaged");
  const auto path = dir / "k.db";
  constexpr int kKeys = 60;
  {
    KernelStore init(path, quiet());
    for (int i = 0; i < kKeys; ++i) init.put(record("d" + std::to_string(i), 3000));
  }
  ASSERT_FALSE(fs::exists(dir / "k.db-wal")) << "closing the last connection checkpoints the WAL";
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 40u * 4096u);
  {
    // Overwrite pages 6..30 (keeping the header page) with a pattern.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5 * 4096);
    for (int i = 0; i < 25 * 4096; ++i) f.put(static_cast<char>(0xA5 ^ (i * 7)));
  }
  std::string why;
  int corrupt_reports = 0;
  StoreOptions o = quiet(&why);
  o.on_corrupt = [&](const std::string&) { ++corrupt_reports; };
  KernelStore store(path, o);
  int hits = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "d" + std::to_string(i);
    std::optional<KernelRecord> got;
    EXPECT_NO_THROW(got = store.get(key));
    if (got) {
      ++hits;
      EXPECT_EQ(got->cubin, record(key, 3000).cubin) << key;
    }
    EXPECT_NO_THROW(store.put(record("n" + std::to_string(i), 100)));
  }
  EXPECT_LT(hits, kKeys) << "the damage was not seen at all";
  EXPECT_TRUE(store.get("n5"));
  EXPECT_TRUE(!why.empty() || corrupt_reports > 0);
  EXPECT_LE(count_lines(why), 2) << why;   // at most: writes stopped, then the file dropped
  KernelStore checker(path, quiet());
  if (checker.persistent()) {
    EXPECT_THROW(checker.verify(false), shapejit::Error);
  }
  EXPECT_TRUE(checker.damaged()) << "so that the CLI can offer to set it aside";
}

TEST(KernelStoreFailure, ReadOnlyDirectoryWithARollbackJournalFileStillServesHits) {
  const auto dir = fresh_dir("readonly-dir-rollback");
  const auto path = dir / "k.db";
  StoreOptions o = quiet();
  o.allow_wal = false;
  { KernelStore init(path, o); init.put(record("r")); }
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0555), 0);
  const std::string before = file_bytes(path);
  const std::string failure = run_unprivileged([&]() -> std::string {
    std::string why;
    KernelStore store(path, quiet(&why));
    CHILD_CHECK(store.persistent() && !store.writable());
    CHILD_CHECK(store.get("r") && store.get("r")->cubin == record("r").cubin);
    store.put(record("new"));
    CHILD_CHECK(store.get("new"));
    CHILD_CHECK(count_lines(why) == 1);
    return "";
  });
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(failure, "");
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"k.db"});
}

TEST(KernelStoreFailure, APathThatIsNotARegularFileIsRefused) {
  // SQLite would create <target>-journal beside a symlink's target (/dev/null-journal).
  const auto dir = fresh_dir("not-regular");
  fs::create_symlink("/dev/null", dir / "k.db");
  fs::create_directory(dir / "sub.db");
  for (const char* name : {"k.db", "sub.db"}) {
    std::string why;
    KernelStore store(dir / name, quiet(&why));
    EXPECT_FALSE(store.persistent()) << name;
    EXPECT_NE(why.find("not a regular file"), std::string::npos) << why;
    store.put(record("x"));
    EXPECT_TRUE(store.get("x"));
  }
  EXPECT_FALSE(fs::exists("/dev/null-journal"));
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"k.db", "sub.db"}));
}

TEST(KernelStoreFailure, WithoutCreateAMissingDatabaseAndItsFoldersAreNotMade) {
  const auto dir = fresh_dir("no-create");
  StoreOptions o = quiet();
  o.create = false;
  KernelStore store(dir / "typo" / "k.db", o);
  EXPECT_FALSE(store.persistent());
  EXPECT_EQ(store.bypass_reason(), kReasonMissing);
  EXPECT_TRUE(store.list().empty());
  EXPECT_FALSE(fs::exists(dir / "typo"));
}

TEST(KernelStoreFailure, AnUnusableFileIsSetAsideKeptAndReplacedByAFreshOne) {
  const auto dir = fresh_dir("set-aside");
  const auto path = dir / "k.db";
  const std::string garbage(8192, 'g');
  { std::ofstream(path, std::ios::binary) << garbage; }
  {
    KernelStore store(path, quiet());
    EXPECT_TRUE(store.damaged());
  }
  const fs::path aside = set_aside_database(path);
  EXPECT_NE(aside.filename().string().find("k.db.unusable-"), std::string::npos) << aside;
  EXPECT_EQ(file_bytes(aside), garbage) << "nothing is deleted";
  EXPECT_FALSE(fs::exists(path));
  KernelStore fresh(path, quiet());
  EXPECT_TRUE(fresh.writable());
  EXPECT_FALSE(fresh.damaged());
}

TEST(KernelStoreFailure, AHealthyFileIsNotDamaged) {
  const auto dir = fresh_dir("not-damaged");
  KernelStore store(dir / "k.db", quiet());
  store.put(record("a"));
  EXPECT_FALSE(store.damaged());
}
