// make_gpu_measurer: the GPU families of this build behind one routing measurer.
#include "gpu_measurers.hpp"

#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime::tuning {

const std::vector<detail::GpuMeasurerFamily>& detail::gpu_measurer_families() {
  static const std::vector<GpuMeasurerFamily> families = {
      {"gemm",
       {"gemm_fp8", "gemm_bf16", "gemm_fp8_grouped_contiguous", "gemm_fp8_grouped_masked"},
       make_gemm_gpu_measurer},
      {"mla", {"mla_decode"}, make_mla_gpu_measurer},
      {"moe", {"moe_dispatch", "moe_swiglu", "moe_combine"}, make_moe_gpu_measurer},
  };
  return families;
}

std::string detail::FamilyMeasurer::unavailable() {
  const DeviceInfo& d = current_device();
  if (d.cc_major != 9 || d.cc_minor != 0)
    return std::string("the ") + family_ + " kernels need an sm_90 GPU; this one (" + d.name + ") is sm_" +
           std::to_string(d.cc_major) + std::to_string(d.cc_minor);
  return {};
}

Measurement detail::FamilyMeasurer::measure(const Candidate& c, int runs) { return timer_.time(prepare(c), runs); }

std::vector<Measurement> detail::FamilyMeasurer::measure_interleaved(const std::vector<const Candidate*>& cs,
                                                                     int runs) {
  std::vector<TimedLaunch> timed;
  for (const Candidate* c : cs) timed.push_back(prepare(*c));
  std::vector<const TimedLaunch*> ts;
  for (const TimedLaunch& t : timed) ts.push_back(&t);
  return timer_.time_interleaved(ts, runs);
}

std::unique_ptr<Measurer> make_gpu_measurer(Runtime& runtime, const GpuMeasureOptions& options) {
  auto timer = std::make_shared<GpuTimer>(options.warmup);
  std::vector<MeasurerFamily> families;
  for (const detail::GpuMeasurerFamily& f : detail::gpu_measurer_families())
    families.push_back({f.name, f.ops, [&runtime, options, timer, make = f.make] {
                          return make(runtime, options, *timer);
                        }});
  return make_routing_measurer(std::move(families), [] {
    std::string why;
    return driver_available(&why) ? std::string() : "no GPU: " + why;
  });
}

}  // namespace shapejit::runtime::tuning
