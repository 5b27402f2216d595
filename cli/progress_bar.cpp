#include "progress_bar.hpp"

#include <unistd.h>

#include <cstdio>

namespace shapejit::cli {

bool stderr_is_terminal() { return ::isatty(2) != 0; }

ProgressBar::ProgressBar(long long total, bool enabled) : total_(total), enabled_(enabled) {}

void ProgressBar::update(long long done, const std::string& status) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  constexpr int kWidth = 30;
  const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  // Remaining time at the pace so far.
  const double eta = done > 0 && total_ > done ? secs * static_cast<double>(total_ - done) / done : 0.0;
  std::fprintf(stderr, "\r[%s] %lld/%lld %5.1fs ETA %5.0fs %-40.40s", bar.c_str(), done, total_, secs, eta,
               status.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  std::fprintf(stderr, "\n");
}

}  // namespace shapejit::cli
