// precompile's thread start-up: threads the system refuses are not fatal.
#include <gtest/gtest.h>

#include <atomic>
#include <system_error>

#include "worker_threads.hpp"

using shapejit::cli::run_work_loop;

namespace {

// A loop over `jobs` items that any number of threads may share.
struct Jobs {
  explicit Jobs(int n) : total(n) {}
  void loop() {
    while (next.fetch_add(1) < total) ++done;
  }
  int total;
  std::atomic<int> next{0}, done{0};
};

}  // namespace

TEST(WorkerThreads, RefusedThreadsLeaveTheWorkToThoseThatStarted) {
  Jobs jobs(100);
  int started = 0;
  const int ran = run_work_loop(8, [&] { jobs.loop(); }, [&](const std::function<void()>& f) {
    if (++started > 3) throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
    return std::thread(f);
  });
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(jobs.done, 100);
}

TEST(WorkerThreads, NoThreadAtAllRunsOnTheCaller) {
  Jobs jobs(10);
  const int ran = run_work_loop(4, [&] { jobs.loop(); }, [](const std::function<void()>&) -> std::thread {
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
  });
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(jobs.done, 10);
}
