#pragma once
// Owning CUDA stream and event handles (RAII over the driver), for code that orders work across
// streams: the expert-parallel exchange's communication stream and its events.
#include <cuda.h>

namespace shapejit::runtime {

class Stream {
 public:
  Stream();    // a non-blocking stream in the current context (needs a GPU)
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  CUstream get() const { return stream_; }

 private:
  CUstream stream_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false);   // without timing: cheaper, for ordering only
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  CUevent get() const { return event_; }
  void record(CUstream stream);
  // `stream` waits (on the device) for the work recorded in this event.
  void wait_in(CUstream stream) const;
  // Milliseconds between this event and a later one (both recorded with timing).
  float elapsed_ms_until(const Event& later) const;
  void synchronize() const;

 private:
  CUevent event_ = nullptr;
};

}  // namespace shapejit::runtime
