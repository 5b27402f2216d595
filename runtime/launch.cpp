#include <string>

#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"
#include "shapejit/runtime/runtime.hpp"

namespace shapejit::runtime {

void launch(const LoadedKernel& kernel, const LaunchParams& p, void** args) {
  const DriverApi& d = driver();
  // Kernels above 48 KB of dynamic shared memory must opt in; raise the limit once per size.
  if (p.dynamic_smem_bytes > 48 * 1024 && p.dynamic_smem_bytes > kernel.dynamic_smem_limit.load()) {
    const DeviceInfo& dev = current_device();
    if (p.dynamic_smem_bytes + kernel.static_smem_bytes >
        static_cast<unsigned>(dev.max_smem_per_block_optin))
      fail(Errc::invalid_argument,
           kernel.spec + " needs " + std::to_string(p.dynamic_smem_bytes) +
               " bytes of dynamic shared memory; " + dev.name + " allows " +
               std::to_string(dev.max_smem_per_block_optin));
    SHAPEJIT_CU(d.cuFuncSetAttribute(kernel.function,
                                     CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                     static_cast<int>(p.dynamic_smem_bytes)));
    kernel.dynamic_smem_limit.store(p.dynamic_smem_bytes);
  }
  CUlaunchAttribute attrs[1];
  unsigned num_attrs = 0;
  if (p.cluster[0] * p.cluster[1] * p.cluster[2] > 1) {
    attrs[num_attrs].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[num_attrs].value.clusterDim.x = p.cluster[0];
    attrs[num_attrs].value.clusterDim.y = p.cluster[1];
    attrs[num_attrs].value.clusterDim.z = p.cluster[2];
    ++num_attrs;
  }
  CUlaunchConfig config{};
  config.gridDimX = p.grid[0];
  config.gridDimY = p.grid[1];
  config.gridDimZ = p.grid[2];
  config.blockDimX = p.block[0];
  config.blockDimY = p.block[1];
  config.blockDimZ = p.block[2];
  config.sharedMemBytes = p.dynamic_smem_bytes;
  config.hStream = p.stream;
  config.attrs = num_attrs ? attrs : nullptr;
  config.numAttrs = num_attrs;
  const CUresult r = d.cuLaunchKernelEx(&config, kernel.function, args, nullptr);
  if (r != CUDA_SUCCESS) {
    const char* name = nullptr;
    d.cuGetErrorName(r, &name);
    fail(Errc::driver, "launch of " + kernel.spec + " failed: " + (name ? name : "?") + " (grid " +
                           std::to_string(p.grid[0]) + "x" + std::to_string(p.grid[1]) + "x" +
                           std::to_string(p.grid[2]) + ", block " + std::to_string(p.block[0]) +
                           ", " + std::to_string(p.dynamic_smem_bytes) + " B dynamic smem)");
  }
}

}  // namespace shapejit::runtime
