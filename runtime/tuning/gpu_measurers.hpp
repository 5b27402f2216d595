#pragma once
// The GPU measuring step's families. Each family's measurer implements Measurer for its ops:
//   unavailable()  why this GPU cannot run the family's kernels (e.g. not sm_90), else empty;
//   check(c)       one run on fresh random inputs, output poisoned first, against a
//                  higher-precision host reference; the error text, or empty;
//   measure(c, n)  and measure_interleaved(): build a TimedLaunch per candidate (the op's public
//                  front end with the candidate's config forced, so what is timed is what a call
//                  with a winning record runs) and time it with the shared GpuTimer
//                  (gpu_timing.hpp: warm-up, L2 flush, median and spread, CUDA graph).
// To add a family: write make_<family>_gpu_measurer in its own file, declare it below and add
// one line to gpu_measurer_families() in gpu_measurers.cpp. make_gpu_measurer routes each
// candidate by op to its family.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpu_timing.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning::detail {

using GpuMeasurerFactory = std::unique_ptr<Measurer> (*)(Runtime& runtime, const GpuMeasureOptions& options,
                                                         GpuTimer& timer);
struct GpuMeasurerFamily {
  const char* name;
  std::vector<std::string> ops;
  GpuMeasurerFactory make;
};
const std::vector<GpuMeasurerFamily>& gpu_measurer_families();

// What every family's measurer holds, and the arch check they share: every family's kernels
// are built for sm_90a.
class FamilyMeasurer : public Measurer {
 public:
  FamilyMeasurer(const char* family, Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer)
      : family_(family), runtime_(runtime), options_(options), timer_(timer), rng_(std::random_device{}()) {}
  std::string unavailable() override;
  // Timing is the same for every family once a candidate is ready to launch (prepare).
  Measurement measure(const Candidate& c, int runs) override;
  std::vector<Measurement> measure_interleaved(const std::vector<const Candidate*>& cs, int runs) override;

 protected:
  // The candidate ready to time: its inputs made, its kernel loaded outside any capture.
  virtual TimedLaunch prepare(const Candidate& c) = 0;

  const char* family_;
  Runtime& runtime_;
  GpuMeasureOptions options_;
  GpuTimer& timer_;
  std::mt19937_64 rng_;
};

// gemm_gpu_measurer.cpp
std::unique_ptr<Measurer> make_gemm_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer);
// mla_gpu_measurer.cpp
std::unique_ptr<Measurer> make_mla_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer);
// moe_gpu_measurer.cpp
std::unique_ptr<Measurer> make_moe_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options, GpuTimer& timer);

}  // namespace shapejit::runtime::tuning::detail
