// Several real processes writing one database file at once.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;

class ManyProcesses : public ::testing::TestWithParam<bool> {};

TEST_P(ManyProcesses, WritingOverlappingKeysAtOnceLeaveAConsistentDatabase) {
  const bool wal = GetParam();
  const auto dir = fresh_dir(wal ? "procs-wal" : "procs-rollback");
  const auto path = dir / "k.db";   // does not exist yet: the processes race to create it
  constexpr int kProcs = 6, kKeys = 40;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      {
        std::string why;
        StoreOptions o = quiet(&why, 30000);
        o.allow_wal = wal;
        KernelStore store(path, o);
        if (!store.writable()) {
          std::ofstream(dir / ("child-" + std::to_string(p) + ".err")) << why;
          _exit(3);
        }
        for (int i = 0; i < kKeys; ++i) {
          const std::string key = "key" + std::to_string((i + p * 7) % kKeys);   // overlapping keys
          auto hit = store.get(key);
          if (hit && hit->cubin != record(key, 3000).cubin) code = 5;   // a wrong kernel
          // Every process also overwrites some keys another one wrote.
          if (!hit || i % 3 == 0) store.put(record(key, 3000));
        }
        if (!store.counters().bypasses.empty() || !why.empty()) code = 4;
        if (code) std::ofstream(dir / ("child-" + std::to_string(p) + ".err")) << "exit " << code << ": " << why;
      }
      _exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  for (int p = 0; p < kProcs; ++p) {
    const auto err = dir / ("child-" + std::to_string(p) + ".err");
    EXPECT_FALSE(std::filesystem::exists(err)) << "process " << p << ": " << file_bytes(err);
  }
  RawDb raw(path);
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), wal ? "wal" : "delete");
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM kernels"), kKeys);
  KernelStore store(path, quiet());
  EXPECT_TRUE(store.verify(false).empty());
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key" + std::to_string(i);
    const auto got = store.get(key);
    ASSERT_TRUE(got) << key;
    EXPECT_EQ(got->cubin, record(key, 3000).cubin) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(JournalModes, ManyProcesses, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Wal" : "RollbackJournal"; });

TEST(ManyProcessesCreating, AFreshFileOpenedByManyAtOnceIsSetUpOnceAndUsableByAll) {
  // The race between setting up a new file and recognizing it as ours; repeated, because it
  // depends on timing.
  constexpr int kRounds = 12, kProcs = 6;
  for (int round = 0; round < kRounds; ++round) {
    const auto dir = fresh_dir("create-" + std::to_string(round));
    const auto path = dir / "k.db";
    std::vector<pid_t> pids;
    for (int p = 0; p < kProcs; ++p) {
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        std::string why;
        StoreOptions o = quiet(&why, 30000);
        o.allow_wal = (round % 2) == 0;
        KernelStore store(path, o);
        store.put(record("p" + std::to_string(p), 200));
        const bool ok = store.writable() && why.empty();
        if (!ok) std::ofstream(dir / ("child-" + std::to_string(p) + ".err")) << why;
        _exit(ok ? 0 : 1);
      }
      pids.push_back(pid);
    }
    for (pid_t pid : pids) {
      int status = 0;
      waitpid(pid, &status, 0);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round << ", status " << status;
    }
    for (int p = 0; p < kProcs; ++p) {
      const auto err = dir / ("child-" + std::to_string(p) + ".err");
      EXPECT_FALSE(std::filesystem::exists(err)) << "round " << round << ", process " << p << ": " << file_bytes(err);
    }
    RawDb raw(path);
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM kernels"), kProcs) << "round " << round;
    EXPECT_EQ(raw.integer("PRAGMA application_id"), kApplicationId);
    std::filesystem::remove_all(dir);
  }
}
