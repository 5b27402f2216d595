#pragma once
// Runs a work loop on up to `wanted` threads. A thread the system refuses to create is not
// fatal: the work loop pulls jobs until none are left, so the threads that did start (or, with
// none, the calling thread) finish everything.
#include <functional>
#include <thread>

namespace shapejit::runtime {

// Starts a thread running the loop; throws std::system_error when it cannot. Replaced in tests.
using ThreadStarter = std::function<std::thread(const std::function<void()>&)>;

// Returns how many threads ran the loop (0: it ran on the calling thread).
int run_work_loop(int wanted, const std::function<void()>& loop, const ThreadStarter& start = nullptr);

}  // namespace shapejit::runtime
