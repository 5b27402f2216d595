#include "shapejit/runtime/device.hpp"

#include <map>
#include <mutex>

#include "shapejit/error.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::runtime {
namespace {

DeviceInfo query(CUdevice dev, int ordinal) {
  const DriverApi& d = driver();
  DeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {};
  SHAPEJIT_CU(d.cuDeviceGetName(name, sizeof name, dev));
  info.name = name;
  auto attr = [&](CUdevice_attribute a) {
    int v = 0;
    SHAPEJIT_CU(d.cuDeviceGetAttribute(&v, a, dev));
    return v;
  };
  info.cc_major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
  info.cc_minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
  info.num_sms = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
  info.max_smem_per_block_optin = attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  info.l2_bytes = attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE);
  SHAPEJIT_CU(d.cuDeviceTotalMem(&info.total_memory, dev));
  SHAPEJIT_CU(d.cuDriverGetVersion(&info.driver_version));
  // Arch-specific features (wgmma, setmaxnreg) need the "a" target on Hopper.
  info.arch = "sm_" + std::to_string(info.cc_major) + std::to_string(info.cc_minor) +
              (info.cc_major == 9 ? "a" : "");
  return info;
}

}  // namespace

const DeviceInfo& current_device() {
  const DriverApi& d = driver();
  CUcontext ctx = nullptr;
  SHAPEJIT_CU(d.cuCtxGetCurrent(&ctx));
  CUdevice dev = 0;
  if (ctx) {
    SHAPEJIT_CU(d.cuCtxGetDevice(&dev));
  } else {
    SHAPEJIT_CU(d.cuDeviceGet(&dev, 0));
    SHAPEJIT_CU(d.cuDevicePrimaryCtxRetain(&ctx, dev));
    SHAPEJIT_CU(d.cuCtxSetCurrent(ctx));
  }
  static std::mutex mutex;
  static std::map<CUdevice, DeviceInfo> known;
  std::lock_guard lock(mutex);
  auto it = known.find(dev);
  if (it == known.end()) it = known.emplace(dev, query(dev, static_cast<int>(dev))).first;
  return it->second;
}

DeviceInfo default_target_device() {
  DeviceInfo info;
  info.name = "H100 SXM (precompile target)";
  info.cc_major = 9;
  info.cc_minor = 0;
  info.arch = "sm_90a";
  info.num_sms = 132;
  info.max_smem_per_block_optin = 232448;
  info.l2_bytes = 50 * 1024 * 1024;
  return info;
}

}  // namespace shapejit::runtime
