#pragma once
// The host check every front end makes of a device buffer before any driver call.
#include <cuda.h>

#include <string>
#include <string_view>

#include "shapejit/error.hpp"

namespace shapejit::runtime {

// Throws Error(invalid_argument) "<op>: <name> is null" or "<op>: <name> must be <align>-byte
// aligned (address % <align> = <r>)".
inline void require_device_pointer(std::string_view op, std::string_view name, CUdeviceptr p,
                                   unsigned align) {
  const std::string who = std::string(op) + ": " + std::string(name);
  if (p == 0) fail(Errc::invalid_argument, who + " is null");
  if (p % align != 0)
    fail(Errc::invalid_argument, who + " must be " + std::to_string(align) +
                                     "-byte aligned (address % " + std::to_string(align) +
                                     " = " + std::to_string(p % align) + ")");
}

}  // namespace shapejit::runtime
