#pragma once
// A one-line progress bar on a terminal (stderr); silent when stderr is not a terminal.
#include <chrono>
#include <mutex>
#include <string>

namespace shapejit::cli {

class ProgressBar {
 public:
  ProgressBar(long long total, bool enabled);
  void update(long long done, const std::string& status);
  void finish();

 private:
  long long total_;
  bool enabled_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

bool stderr_is_terminal();

}  // namespace shapejit::cli
