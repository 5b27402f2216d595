// Cross-process single flight: one compile per key across processes, and nobody waits forever.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "shapejit/cache/compile_lease.hpp"
#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;
using namespace std::chrono_literals;

TEST(CompileLease, OneHolderPerKeyAndReleasedOnDestruction) {
  const auto dir = fresh_dir("lease-basic");
  KernelStore store(dir / "k.db", quiet());
  {
    auto first = store.lease("k1", 0ms);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->waited());
    EXPECT_FALSE(store.lease("k1", 0ms)) << "a second holder of the same key";
    EXPECT_TRUE(store.lease("k2", 0ms)) << "other keys are independent";
  }
  EXPECT_TRUE(store.lease("k1", 0ms));
}

TEST(CompileLease, AKilledHolderReleasesAtOnce) {
  const auto dir = fresh_dir("lease-killed");
  const auto db = dir / "k.db";
  { KernelStore init(db, quiet()); }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lease = acquire_compile_lease(db, "k", 0ms);
    const char c = lease ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) _exit(2);
    ::pause();   // a compiler that never finishes
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_FALSE(acquire_compile_lease(db, "k", 0ms));
  std::thread killer([child] {
    std::this_thread::sleep_for(300ms);
    ::kill(child, SIGKILL);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto lease = acquire_compile_lease(db, "k", 60s);
  const auto waited = std::chrono::steady_clock::now() - t0;
  killer.join();
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(lease);
  EXPECT_TRUE(lease->waited());
  EXPECT_LT(waited, 5s);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(CompileLease, AHungHolderDelaysOthersOnlyUpToTheirWaitLimit) {
  const auto dir = fresh_dir("lease-hung");
  const auto db = dir / "k.db";
  { KernelStore init(db, quiet()); }
  auto holder = acquire_compile_lease(db, "k", 0ms);
  ASSERT_TRUE(holder);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(acquire_compile_lease(db, "k", 200ms));
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 3s);
}

TEST(CompileLease, NoLeaseWhenTheDatabaseIsNotWritten) {
  KernelStore memory("/proc/shapejit-cannot-exist/k.db", quiet());
  EXPECT_FALSE(memory.lease("k", 0ms));
}
