#include "shapejit/runtime/driver_api.hpp"

#include <dlfcn.h>

#include <mutex>

#include "shapejit/error.hpp"

namespace shapejit::runtime {
namespace {

struct Loaded {
  DriverApi api{};
  std::string error;   // empty when usable
};

const Loaded& load() {
  static const Loaded loaded = [] {
    Loaded l;
    void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      l.error = "no CUDA driver: libcuda.so.1 could not be loaded (" + std::string(::dlerror()) + ")";
      return l;
    }
    using GetProc = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);
    auto get_proc = reinterpret_cast<GetProc>(::dlsym(lib, "cuGetProcAddress_v2"));
    if (!get_proc) {
      l.error = "no CUDA driver: libcuda.so.1 has no cuGetProcAddress_v2 (driver older than CUDA 12)";
      return l;
    }
    bool ok = true;
    // Entry points by name at the API version this build targets (CUDA 12.0 ABI and later).
    auto resolve = [&](const char* name, auto& fn) {
      void* p = nullptr;
      CUdriverProcAddressQueryResult q{};
      if (get_proc(name, &p, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS || !p) {
        if (ok) l.error = std::string("CUDA driver lacks ") + name;
        ok = false;
        return;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    DriverApi& a = l.api;
#define SHAPEJIT_RESOLVE(name) resolve(#name, a.name)
    SHAPEJIT_RESOLVE(cuInit); SHAPEJIT_RESOLVE(cuDriverGetVersion);
    SHAPEJIT_RESOLVE(cuGetErrorString); SHAPEJIT_RESOLVE(cuGetErrorName);
    SHAPEJIT_RESOLVE(cuDeviceGetCount); SHAPEJIT_RESOLVE(cuDeviceGet);
    SHAPEJIT_RESOLVE(cuDeviceGetName); SHAPEJIT_RESOLVE(cuDeviceGetAttribute);
    SHAPEJIT_RESOLVE(cuDeviceTotalMem); SHAPEJIT_RESOLVE(cuDevicePrimaryCtxRetain);
    SHAPEJIT_RESOLVE(cuCtxSetCurrent); SHAPEJIT_RESOLVE(cuCtxGetCurrent);
    SHAPEJIT_RESOLVE(cuCtxGetDevice); SHAPEJIT_RESOLVE(cuCtxSynchronize);
    SHAPEJIT_RESOLVE(cuLibraryLoadData); SHAPEJIT_RESOLVE(cuLibraryUnload);
    SHAPEJIT_RESOLVE(cuLibraryGetKernel); SHAPEJIT_RESOLVE(cuKernelGetFunction);
    SHAPEJIT_RESOLVE(cuKernelSetAttribute); SHAPEJIT_RESOLVE(cuFuncGetAttribute);
    SHAPEJIT_RESOLVE(cuFuncSetAttribute);
    SHAPEJIT_RESOLVE(cuLaunchKernelEx); SHAPEJIT_RESOLVE(cuTensorMapEncodeTiled);
    SHAPEJIT_RESOLVE(cuMemAlloc); SHAPEJIT_RESOLVE(cuMemFree);
    SHAPEJIT_RESOLVE(cuMemcpyHtoD); SHAPEJIT_RESOLVE(cuMemcpyDtoH);
    SHAPEJIT_RESOLVE(cuMemcpyDtoDAsync); SHAPEJIT_RESOLVE(cuMemsetD8Async);
    SHAPEJIT_RESOLVE(cuMemsetD32Async); SHAPEJIT_RESOLVE(cuStreamCreate);
    SHAPEJIT_RESOLVE(cuStreamDestroy); SHAPEJIT_RESOLVE(cuStreamSynchronize);
    SHAPEJIT_RESOLVE(cuStreamBeginCapture); SHAPEJIT_RESOLVE(cuStreamEndCapture);
    SHAPEJIT_RESOLVE(cuStreamIsCapturing); SHAPEJIT_RESOLVE(cuGraphInstantiate);
    SHAPEJIT_RESOLVE(cuGraphLaunch); SHAPEJIT_RESOLVE(cuGraphExecDestroy);
    SHAPEJIT_RESOLVE(cuGraphDestroy); SHAPEJIT_RESOLVE(cuEventCreate);
    SHAPEJIT_RESOLVE(cuEventDestroy); SHAPEJIT_RESOLVE(cuEventRecord);
    SHAPEJIT_RESOLVE(cuEventSynchronize); SHAPEJIT_RESOLVE(cuEventElapsedTime);
    SHAPEJIT_RESOLVE(cuStreamQuery); SHAPEJIT_RESOLVE(cuStreamWaitEvent);
    SHAPEJIT_RESOLVE(cuEventQuery);
#undef SHAPEJIT_RESOLVE
    if (!ok) return l;
    if (CUresult r = a.cuInit(0); r != CUDA_SUCCESS) {
      const char* s = nullptr;
      a.cuGetErrorString(r, &s);
      l.error = std::string("no CUDA device: cuInit failed (") + (s ? s : "unknown") + ")";
      return l;
    }
    int count = 0;
    if (a.cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
      l.error = "no CUDA device: the driver reports none";
      return l;
    }
    return l;
  }();
  return loaded;
}

}  // namespace

const DriverApi& driver() {
  const Loaded& l = load();
  if (!l.error.empty()) fail(Errc::no_driver, l.error);
  return l.api;
}

bool driver_available(std::string* why) {
  const Loaded& l = load();
  if (why) *why = l.error;
  return l.error.empty();
}

void check(CUresult result, const char* call) {
  if (result == CUDA_SUCCESS) return;
  const char* name = nullptr;
  const char* text = nullptr;
  const DriverApi& a = driver();
  a.cuGetErrorName(result, &name);
  a.cuGetErrorString(result, &text);
  fail(Errc::driver, std::string(call) + " failed: " + (name ? name : "?") + " (" +
                         (text ? text : "unknown") + ")");
}

}  // namespace shapejit::runtime
