#pragma once
// NCCL's host API, loaded from libnccl.so.2 at run time (never linked), so everything that is not
// communication works where NCCL is absent and a communication call says clearly why it cannot
// run. Search order: $SHAPEJIT_NCCL (a file), the PyPI wheel nvidia-nccl-cu13 found through
// $SHAPEJIT_NCCL_WHEEL_DIR or the site-packages of python3 on PATH, the CUDA toolkit
// ($CUDA_HOME/lib64, /usr/local/cuda/lib64), then the loader's default search.
#include <nccl.h>

#include <string>
#include <vector>

namespace shapejit::comm {

struct NcclApi {
  ncclResult_t (*ncclGetVersion)(int*);
  ncclResult_t (*ncclGetUniqueId)(ncclUniqueId*);
  ncclResult_t (*ncclCommInitRankConfig)(ncclComm_t*, int, ncclUniqueId, int, ncclConfig_t*);
  ncclResult_t (*ncclCommFinalize)(ncclComm_t);
  ncclResult_t (*ncclCommDestroy)(ncclComm_t);
  ncclResult_t (*ncclCommAbort)(ncclComm_t);
  ncclResult_t (*ncclCommGetAsyncError)(ncclComm_t, ncclResult_t*);
  ncclResult_t (*ncclCommCount)(const ncclComm_t, int*);
  ncclResult_t (*ncclCommUserRank)(const ncclComm_t, int*);
  ncclResult_t (*ncclCommCuDevice)(const ncclComm_t, int*);
  ncclResult_t (*ncclAllGather)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*ncclAlltoAll)(const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
  ncclResult_t (*ncclSend)(const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*ncclRecv)(void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
  ncclResult_t (*ncclGroupStart)();
  ncclResult_t (*ncclGroupEnd)();
  const char* (*ncclGetErrorString)(ncclResult_t);
  const char* (*ncclGetLastError)(ncclComm_t);
  std::string path;   // the library that was loaded
  int version = 0;    // ncclGetVersion(): e.g. 22800 for 2.28.0
};

// Loads NCCL on first use. Throws Error(unsupported) listing every place searched when no
// usable libnccl.so.2 exists.
const NcclApi& nccl();
// True when nccl() would succeed; otherwise *why says what is missing. Never throws.
bool nccl_available(std::string* why = nullptr);
// The candidate paths nccl() tries, in order (for messages and tests).
std::vector<std::string> nccl_search_paths();

// Throws Error(driver) naming the call, NCCL's error string and its last error message when
// result is neither ncclSuccess nor ncclInProgress (non-blocking communicators).
void check(ncclResult_t result, const char* call, ncclComm_t comm = nullptr);

}  // namespace shapejit::comm

#define SHAPEJIT_NCCL(call, communicator) ::shapejit::comm::check((call), #call, (communicator))
