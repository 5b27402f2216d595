#pragma once
// GPU tests run where a driver and device exist and report SKIPPED with the reason elsewhere.
#include <gtest/gtest.h>

#include <string>

#include "shapejit/runtime/driver_api.hpp"

#define SHAPEJIT_REQUIRE_GPU()                                              \
  do {                                                                      \
    std::string why_no_gpu_;                                                \
    if (!::shapejit::runtime::driver_available(&why_no_gpu_))               \
      GTEST_SKIP() << "needs a CUDA GPU: " << why_no_gpu_;                  \
  } while (0)
