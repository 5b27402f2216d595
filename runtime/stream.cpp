// Owning stream and event handles (see stream.hpp).
#include "shapejit/runtime/stream.hpp"

#include <utility>

#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime {

Stream::Stream() {
  current_device();
  SHAPEJIT_CU(driver().cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING));
}
Stream::~Stream() {
  if (stream_) driver().cuStreamDestroy(stream_);
}
Stream::Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
Stream& Stream::operator=(Stream&& o) noexcept {
  if (this != &o) {
    if (stream_) driver().cuStreamDestroy(stream_);
    stream_ = std::exchange(o.stream_, nullptr);
  }
  return *this;
}

Event::Event(bool timing) {
  current_device();
  SHAPEJIT_CU(driver().cuEventCreate(&event_, timing ? CU_EVENT_DEFAULT : CU_EVENT_DISABLE_TIMING));
}
Event::~Event() {
  if (event_) driver().cuEventDestroy(event_);
}
Event::Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    if (event_) driver().cuEventDestroy(event_);
    event_ = std::exchange(o.event_, nullptr);
  }
  return *this;
}
void Event::record(CUstream stream) { SHAPEJIT_CU(driver().cuEventRecord(event_, stream)); }
void Event::wait_in(CUstream stream) const { SHAPEJIT_CU(driver().cuStreamWaitEvent(stream, event_, 0)); }
float Event::elapsed_ms_until(const Event& later) const {
  float ms = 0;
  SHAPEJIT_CU(driver().cuEventElapsedTime(&ms, event_, later.event_));
  return ms;
}
void Event::synchronize() const { SHAPEJIT_CU(driver().cuEventSynchronize(event_)); }

}  // namespace shapejit::runtime
