#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/quant.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/checks.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/host_numerics.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {
namespace {

constexpr int kThreads = 256;
constexpr int kElemsPerThread = 8;
constexpr float kE4M3Max = 448.0f;
constexpr float kMinAmax = 1e-4f;

std::int64_t m_stride(int m) { return (static_cast<std::int64_t>(m) + 3) / 4 * 4; }

void scale_strides(int m, int k, int group_size, ScaleLayout layout, std::int64_t& stride_m,
                   std::int64_t& stride_g) {
  if (layout == ScaleLayout::row_major) {
    stride_m = k / group_size;
    stride_g = 1;
  } else {
    stride_m = 1;
    stride_g = m_stride(m);
  }
}

}  // namespace

std::int64_t quant_scale_elements(int m, int k, int group_size, ScaleLayout layout) {
  const std::int64_t groups = k / group_size;
  return layout == ScaleLayout::row_major ? static_cast<std::int64_t>(m) * groups
                                          : groups * m_stride(m);
}

void validate_shape(const QuantFp8Args& a) {
  const std::string shape = "[" + std::to_string(a.m) + ", " + std::to_string(a.k) + "]";
  if (a.group_size != 32 && a.group_size != 64 && a.group_size != 128)
    fail(Errc::invalid_argument, "quantize_fp8: group_size " + std::to_string(a.group_size) +
                                     " is not one of 32, 64, 128");
  if (a.m < 0 || a.k <= 0)
    fail(Errc::invalid_argument, "quantize_fp8: shape " + shape + " must have M >= 0 and K > 0");
  if (a.k % a.group_size)
    fail(Errc::invalid_argument, "quantize_fp8: K = " + std::to_string(a.k) +
                                     " is not a multiple of group_size " +
                                     std::to_string(a.group_size));
}

void validate_buffers(const QuantFp8Args& a) {
  if (a.m == 0) return;
  require_device_pointer("quantize_fp8", "x", a.x, 16);
  require_device_pointer("quantize_fp8", "q", a.q, 16);
  require_device_pointer("quantize_fp8", "scales", a.scales, 4);
}

void validate(const QuantFp8Args& a) {
  validate_shape(a);
  validate_buffers(a);
}

jit::KernelSpec quant_fp8_spec(int k, int group_size, const std::string& arch) {
  return jit::find_kernel_definition("quant", "per_token_group_quant")
      .spec({{"K", k}, {"GROUP_SIZE", group_size}, {"THREADS", kThreads}}, arch);
}

void quantize_fp8_per_token_group(const QuantFp8Args& a, CUstream stream, Runtime& runtime) {
  validate(a);
  if (a.m == 0) return;
  const DeviceInfo& dev = current_device();
  if (dev.cc_major * 10 + dev.cc_minor < 89)
    fail(Errc::unsupported, "quantize_fp8: FP8 conversion needs sm_89 or newer; " + dev.name +
                                " is sm_" + std::to_string(dev.cc_major) +
                                std::to_string(dev.cc_minor));
  const LoadedKernel& kernel = runtime.load(quant_fp8_spec(a.k, a.group_size, dev.arch));
  std::int64_t stride_m, stride_g;
  scale_strides(a.m, a.k, a.group_size, a.layout, stride_m, stride_g);
  const long long groups = static_cast<long long>(a.m) * (a.k / a.group_size);
  const int groups_per_block = kThreads / (a.group_size / kElemsPerThread);
  LaunchParams p;
  p.grid[0] = static_cast<unsigned>((groups + groups_per_block - 1) / groups_per_block);
  p.block[0] = kThreads;
  p.stream = stream;
  CUdeviceptr x = a.x, q = a.q, s = a.scales;
  int m = a.m;
  long long sm = stride_m, sg = stride_g;
  void* args[] = {&x, &q, &s, &m, &sm, &sg};
  launch(kernel, p, args);
}

void quantize_fp8_per_token_group(const QuantFp8Args& args, CUstream stream) {
  quantize_fp8_per_token_group(args, stream, Runtime::global());
}

void quantize_fp8_per_token_group_reference(const std::uint16_t* x, std::uint8_t* q, float* scales,
                                            int m, int k, int group_size, ScaleLayout layout) {
  std::int64_t stride_m, stride_g;
  scale_strides(m, k, group_size, layout, stride_m, stride_g);
  for (int row = 0; row < m; ++row) {
    for (int g = 0; g < k / group_size; ++g) {
      const std::uint16_t* xg = x + static_cast<std::int64_t>(row) * k + g * group_size;
      float amax = 0.0f;
      for (int i = 0; i < group_size; ++i) amax = std::max(amax, std::fabs(bf16_to_float(xg[i])));
      const float scale = std::max(amax, kMinAmax) / kE4M3Max;
      const float inv = 1.0f / scale;
      for (int i = 0; i < group_size; ++i)
        q[static_cast<std::int64_t>(row) * k + g * group_size + i] = float_to_e4m3(bf16_to_float(xg[i]) * inv);
      scales[row * stride_m + g * stride_g] = scale;
    }
  }
}

}  // namespace shapejit::runtime
