#include "bench_timing.hpp"

namespace shapejit::cli {

using runtime::driver;

BenchTimer::BenchTimer() : flush_(256u << 20) {
  SHAPEJIT_CU(driver().cuEventCreate(&begin_, CU_EVENT_DEFAULT));
  SHAPEJIT_CU(driver().cuEventCreate(&end_, CU_EVENT_DEFAULT));
}

BenchTimer::~BenchTimer() {
  driver().cuEventDestroy(begin_);
  driver().cuEventDestroy(end_);
}

void BenchTimer::flush_l2(int round) { flush_.fill_bytes(static_cast<unsigned char>(round)); }

void BenchTimer::start() { SHAPEJIT_CU(driver().cuEventRecord(begin_, nullptr)); }

double BenchTimer::stop() {
  SHAPEJIT_CU(driver().cuEventRecord(end_, nullptr));
  SHAPEJIT_CU(driver().cuEventSynchronize(end_));
  float ms = 0;
  SHAPEJIT_CU(driver().cuEventElapsedTime(&ms, begin_, end_));
  return ms;
}

double BenchTimer::copy_gbs() {
  const std::size_t bytes = std::size_t{1} << 30;
  runtime::DeviceBuffer src(bytes), dst(bytes);
  src.fill_bytes(1);
  const double ms = median_ms(
      [&] { SHAPEJIT_CU(driver().cuMemcpyDtoDAsync(dst.ptr(), src.ptr(), bytes, nullptr)); }, 10);
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9;
}

}  // namespace shapejit::cli
