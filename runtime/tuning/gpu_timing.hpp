#pragma once
// The timing machinery every GPU measurer shares: one stream and a pair of timing events, an L2
// flush before every timed run, warm-up runs, the median and the middle-half spread, an
// optional CUDA graph of one launch (decode-sized shapes are timed as they are deployed), and
// interleaved rounds so drift hits every candidate of a group alike. A family's measurer says
// how to launch one candidate; this times it.
#include <cuda.h>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "shapejit/runtime/device_buffer.hpp"
#include "shapejit/runtime/stream.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {

// One candidate made ready to time (GpuTimer::prepare).
class TimedLaunch {
 public:
  TimedLaunch(std::function<void(CUstream)> launch, std::shared_ptr<CUgraphExec_st> graph)
      : launch_(std::move(launch)), graph_(std::move(graph)) {}
  void run(CUstream stream) const;   // the graph when captured, else the launch itself
  bool captured() const { return graph_ != nullptr; }

 private:
  std::function<void(CUstream)> launch_;
  std::shared_ptr<CUgraphExec_st> graph_;
};

class GpuTimer {
 public:
  explicit GpuTimer(int warmup) : warmup_(warmup) {}
  // The stream everything is timed on (created, with the events and flush buffer, on first use:
  // constructing a GpuTimer needs no GPU).
  CUstream stream();
  // Runs `launch` once on the stream and waits (a kernel is loaded outside any capture and a
  // failing launch throws here, not while timed); with `graph`, captures one launch into a CUDA
  // graph that every timed run replays. `launch` must stay valid while the result is used.
  TimedLaunch prepare(std::function<void(CUstream)> launch, bool graph);
  // Warm-up, then `runs` timed runs, each after an L2 flush.
  Measurement time(const TimedLaunch& t, int runs);
  // Warm-up of each, then `runs` rounds of one timed run of each in turn.
  std::vector<Measurement> time_interleaved(const std::vector<const TimedLaunch*>& ts, int runs);

  // The median and the spread of the middle half (robust to the odd preempted run).
  static Measurement summarize(std::vector<double> us);

 private:
  void ensure_started();
  double once(const TimedLaunch& t, int round);

  int warmup_;
  std::optional<Stream> stream_;
  std::optional<Event> begin_, end_;
  DeviceBuffer flush_;
};

}  // namespace shapejit::runtime::tuning
