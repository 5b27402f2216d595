// GpuTimer: CUDA-event timing with an L2 flush before every run (see gpu_timing.hpp).
#include "gpu_timing.hpp"

#include <algorithm>

#include "shapejit/error.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime::tuning {
namespace {
// Larger than H100/H200's 50 MB L2 by a wide margin, so no operand stays cached between runs.
constexpr std::size_t kFlushBytes = 256u << 20;
}  // namespace

void TimedLaunch::run(CUstream stream) const {
  if (graph_)
    SHAPEJIT_CU(driver().cuGraphLaunch(graph_.get(), stream));
  else
    launch_(stream);
}

void GpuTimer::ensure_started() {
  if (stream_) return;
  stream_.emplace();
  begin_.emplace(true);
  end_.emplace(true);
  flush_ = DeviceBuffer(kFlushBytes);
}

CUstream GpuTimer::stream() {
  ensure_started();
  return stream_->get();
}

TimedLaunch GpuTimer::prepare(std::function<void(CUstream)> launch, bool graph) {
  const DriverApi& d = driver();
  const CUstream s = stream();
  launch(s);
  SHAPEJIT_CU(d.cuStreamSynchronize(s));
  if (!graph) return TimedLaunch(std::move(launch), nullptr);
  CUgraph g = nullptr;
  SHAPEJIT_CU(d.cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
  try {
    launch(s);
  } catch (...) {
    d.cuStreamEndCapture(s, &g);   // leave the stream usable; the capture is discarded
    if (g) d.cuGraphDestroy(g);
    throw;
  }
  SHAPEJIT_CU(d.cuStreamEndCapture(s, &g));
  CUgraphExec exec = nullptr;
  const CUresult rc = d.cuGraphInstantiate(&exec, g, 0);
  d.cuGraphDestroy(g);
  SHAPEJIT_CU(rc);
  return TimedLaunch(std::move(launch),
                     std::shared_ptr<CUgraphExec_st>(exec, [](CUgraphExec e) { driver().cuGraphExecDestroy(e); }));
}

double GpuTimer::once(const TimedLaunch& t, int round) {
  const CUstream s = stream();
  // A different byte each round, so the flush is never a no-op the driver could skip.
  SHAPEJIT_CU(driver().cuMemsetD8Async(flush_.ptr(), static_cast<unsigned char>(round), flush_.bytes(), s));
  begin_->record(s);
  t.run(s);
  end_->record(s);
  end_->synchronize();
  return begin_->elapsed_ms_until(*end_) * 1000.0;
}

Measurement GpuTimer::time(const TimedLaunch& t, int runs) {
  for (int i = 0; i < warmup_; ++i) t.run(stream());
  std::vector<double> us;
  for (int i = 0; i < runs; ++i) us.push_back(once(t, i));
  return summarize(std::move(us));
}

std::vector<Measurement> GpuTimer::time_interleaved(const std::vector<const TimedLaunch*>& ts, int runs) {
  for (const TimedLaunch* t : ts)
    for (int i = 0; i < warmup_; ++i) t->run(stream());
  std::vector<std::vector<double>> us(ts.size());
  for (int r = 0; r < runs; ++r)
    for (std::size_t i = 0; i < ts.size(); ++i) us[i].push_back(once(*ts[i], r));
  std::vector<Measurement> out;
  for (auto& v : us) out.push_back(summarize(std::move(v)));
  return out;
}

Measurement GpuTimer::summarize(std::vector<double> us) {
  Measurement m;
  m.runs = static_cast<int>(us.size());
  if (us.empty()) return m;
  std::sort(us.begin(), us.end());
  m.median_us = us[us.size() / 2];
  m.spread_us = us[us.size() * 3 / 4] - us[us.size() / 4];
  return m;
}

}  // namespace shapejit::runtime::tuning
