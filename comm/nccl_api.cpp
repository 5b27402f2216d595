// Loading libnccl.so.2 at run time (see nccl_api.hpp for the search order).
#include "shapejit/comm/nccl_api.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "shapejit/error.hpp"

namespace shapejit::comm {
namespace {

namespace fs = std::filesystem;

// site-packages of the python3 on PATH (where `pip install nvidia-nccl-cu13` puts the wheel).
std::vector<std::string> python_site_dirs() {
  std::vector<std::string> dirs;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(
      ::popen("python3 -c 'import site,sys; print(\"\\n\".join(site.getsitepackages()+[site.getusersitepackages()]))' "
              "2>/dev/null", "r"), ::pclose);
  if (!pipe) return dirs;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe.get())) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    if (!s.empty()) dirs.push_back(s);
  }
  return dirs;
}

struct Loaded {
  NcclApi api{};
  std::string error;
};

const Loaded& load() {
  static const Loaded loaded = [] {
    Loaded l;
    std::string tried;
    void* lib = nullptr;
    for (const std::string& path : nccl_search_paths()) {
      lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) { l.api.path = path; break; }
      const char* e = ::dlerror();
      tried += "\n  " + path + ": " + (e ? e : "not loadable");
    }
    if (!lib) {
      l.error = "NCCL is not available: no loadable libnccl.so.2 (install the CUDA toolkit's NCCL "
                "or `pip install nvidia-nccl-cu13`, or set SHAPEJIT_NCCL). Tried:" + tried;
      return l;
    }
    bool ok = true;
    auto resolve = [&](const char* name, auto& fn) {
      void* p = ::dlsym(lib, name);
      if (!p) {
        if (ok) l.error = "NCCL at " + l.api.path + " lacks " + name + " (need NCCL >= 2.19)";
        ok = false;
        return;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    NcclApi& a = l.api;
#define SHAPEJIT_RESOLVE(name) resolve(#name, a.name)
    SHAPEJIT_RESOLVE(ncclGetVersion); SHAPEJIT_RESOLVE(ncclGetUniqueId);
    SHAPEJIT_RESOLVE(ncclCommInitRankConfig); SHAPEJIT_RESOLVE(ncclCommFinalize);
    SHAPEJIT_RESOLVE(ncclCommDestroy); SHAPEJIT_RESOLVE(ncclCommAbort);
    SHAPEJIT_RESOLVE(ncclCommGetAsyncError); SHAPEJIT_RESOLVE(ncclCommCount);
    SHAPEJIT_RESOLVE(ncclCommUserRank); SHAPEJIT_RESOLVE(ncclCommCuDevice);
    SHAPEJIT_RESOLVE(ncclAllGather); SHAPEJIT_RESOLVE(ncclAlltoAll);
    SHAPEJIT_RESOLVE(ncclSend); SHAPEJIT_RESOLVE(ncclRecv);
    SHAPEJIT_RESOLVE(ncclGroupStart); SHAPEJIT_RESOLVE(ncclGroupEnd);
    SHAPEJIT_RESOLVE(ncclGetErrorString); SHAPEJIT_RESOLVE(ncclGetLastError);
#undef SHAPEJIT_RESOLVE
    if (!ok) return l;
    if (a.ncclGetVersion(&a.version) != ncclSuccess) {
      l.error = "NCCL at " + l.api.path + ": ncclGetVersion failed";
      return l;
    }
    return l;
  }();
  return loaded;
}

}  // namespace

std::vector<std::string> nccl_search_paths() {
  std::vector<std::string> paths;
  if (const char* p = std::getenv("SHAPEJIT_NCCL"); p && *p) paths.emplace_back(p);
  std::vector<std::string> site;
  if (const char* w = std::getenv("SHAPEJIT_NCCL_WHEEL_DIR"); w && *w) site.emplace_back(w);
  for (auto& d : python_site_dirs()) site.push_back(d);
  for (const auto& d : site) {
    fs::path lib = fs::path(d) / "nvidia" / "nccl" / "lib" / "libnccl.so.2";
    std::error_code ec;
    if (fs::exists(lib, ec)) paths.push_back(lib.string());
  }
  if (const char* c = std::getenv("CUDA_HOME"); c && *c)
    paths.push_back((fs::path(c) / "lib64" / "libnccl.so.2").string());
  paths.emplace_back("/usr/local/cuda/lib64/libnccl.so.2");
  paths.emplace_back("libnccl.so.2");
  return paths;
}

const NcclApi& nccl() {
  const Loaded& l = load();
  if (!l.error.empty()) fail(Errc::unsupported, l.error);
  return l.api;
}

bool nccl_available(std::string* why) {
  const Loaded& l = load();
  if (why) *why = l.error;
  return l.error.empty();
}

void check(ncclResult_t result, const char* call, ncclComm_t comm) {
  if (result == ncclSuccess || result == ncclInProgress) return;
  const NcclApi& a = nccl();
  std::string msg = std::string(call) + " failed: " + a.ncclGetErrorString(result);
  if (const char* last = a.ncclGetLastError(comm); last && *last) msg += " (" + std::string(last) + ")";
  fail(Errc::driver, msg);
}

}  // namespace shapejit::comm
