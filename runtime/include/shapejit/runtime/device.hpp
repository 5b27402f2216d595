#pragma once
#include <cstddef>
#include <string>

namespace shapejit::runtime {

// Facts about the current device that kernel choices depend on.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  std::string arch;                 // NVRTC target, "sm_90a" on Hopper
  int num_sms = 0;
  int max_smem_per_block_optin = 0; // bytes a block may use after opting in
  int l2_bytes = 0;
  std::size_t total_memory = 0;
  int driver_version = 0;           // e.g. 13000
};

// The current device (ordinal from the current context, else 0); makes its primary context
// current. Throws Error(no_driver) without a driver or device.
const DeviceInfo& current_device();

// The target precompilation uses when no device is present: Hopper H100/H800 SXM.
DeviceInfo default_target_device();

}  // namespace shapejit::runtime
