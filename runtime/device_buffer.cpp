#include "shapejit/runtime/device_buffer.hpp"

#include <utility>

#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/device.hpp"

namespace shapejit::runtime {

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  current_device();   // a context must be current
  if (bytes) SHAPEJIT_CU(driver().cuMemAlloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) driver().cuMemFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) driver().cuMemFree(ptr_);
    ptr_ = std::exchange(o.ptr_, 0);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, std::size_t bytes) {
  SHAPEJIT_CU(driver().cuMemcpyHtoD(ptr_, host, bytes));
}

void DeviceBuffer::download(void* host, std::size_t bytes) const {
  SHAPEJIT_CU(driver().cuMemcpyDtoH(host, ptr_, bytes));
}

void DeviceBuffer::fill_bytes(unsigned char value, CUstream stream) {
  SHAPEJIT_CU(driver().cuMemsetD8Async(ptr_, value, bytes_, stream));
  if (!stream) SHAPEJIT_CU(driver().cuStreamSynchronize(stream));
}

}  // namespace shapejit::runtime
