#pragma once
// What every `shapejit bench` shares: CUDA-event timing with warm-up and an L2 flush before
// each run (median of many), and the device's copy bandwidth measured in the same run.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::cli {

class BenchTimer {
 public:
  BenchTimer();
  ~BenchTimer();
  BenchTimer(const BenchTimer&) = delete;
  BenchTimer& operator=(const BenchTimer&) = delete;

  // Median milliseconds of `iters` runs of f on the default stream, after `warmup` untimed
  // runs; a 256 MB buffer is rewritten before each run so no run finds its inputs in L2.
  template <typename F>
  double median_ms(F&& f, int iters, int warmup = 3) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> ms;
    for (int i = 0; i < iters; ++i) {
      flush_l2(i);
      start();
      f();
      ms.push_back(stop());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

  // Device-to-device copy of 1 GiB, counting bytes read plus bytes written, in GB/s.
  double copy_gbs();

 private:
  void flush_l2(int round);
  void start();
  double stop();   // ms since start()

  runtime::DeviceBuffer flush_;
  CUevent begin_ = nullptr, end_ = nullptr;
};

}  // namespace shapejit::cli
