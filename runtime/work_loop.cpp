#include "shapejit/runtime/work_loop.hpp"

#include <system_error>
#include <vector>

namespace shapejit::runtime {

int run_work_loop(int wanted, const std::function<void()>& loop, const ThreadStarter& start) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(wanted > 0 ? wanted : 0));
  for (int t = 0; t < wanted; ++t) {
    try {
      threads.push_back(start ? start(loop) : std::thread(loop));
    } catch (const std::system_error&) {
      break;   // out of threads (limits, memory): go on with those that started
    }
  }
  if (threads.empty()) loop();
  for (auto& t : threads) t.join();
  return static_cast<int>(threads.size());
}

}  // namespace shapejit::runtime
