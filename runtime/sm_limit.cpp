// The SMs a runtime's kernels may use (Runtime::set_num_sms) and the device the heuristics see.
#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {
namespace {

// The largest persistent grid the kernel definitions take (their NUM_SMS range).
constexpr int kMaxSms = 1024;

int checked(int num_sms, const char* what) {
  if (num_sms < 0 || num_sms > kMaxSms)
    fail(Errc::invalid_argument, std::string(what) + " = " + std::to_string(num_sms) +
                                     " must be in [1, " + std::to_string(kMaxSms) +
                                     "], or 0 for all of the device's SMs");
  return num_sms;
}

}  // namespace

void Runtime::set_num_sms(int num_sms) { num_sms_.store(checked(num_sms, "num_sms")); }

int Runtime::num_sms() const {
  const int n = num_sms_.load();
  return n >= 0 ? n : checked(options().num_sms, "RuntimeOptions::num_sms");
}

DeviceInfo Runtime::target(const DeviceInfo& device) const {
  const int n = num_sms();
  if (n == 0) return device;
  if (device.num_sms > 0 && n > device.num_sms)
    fail(Errc::invalid_argument, "num_sms = " + std::to_string(n) + " exceeds the " +
                                     std::to_string(device.num_sms) + " SMs of " +
                                     (device.name.empty() ? "the device" : device.name));
  DeviceInfo t = device;
  t.num_sms = n;
  return t;
}

}  // namespace shapejit::runtime
