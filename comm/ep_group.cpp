// The EP group's communicator: creation, borrowing, readiness and failure handling.
#include "shapejit/comm/ep_group.hpp"

#include <cstring>
#include <thread>
#include <utility>

#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/device.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace shapejit::comm {

UniqueIdBytes new_unique_id() {
  static_assert(sizeof(ncclUniqueId) == sizeof(UniqueIdBytes));
  ncclUniqueId id;
  SHAPEJIT_NCCL(nccl().ncclGetUniqueId(&id), nullptr);
  UniqueIdBytes bytes;
  std::memcpy(bytes.data(), &id, sizeof id);
  return bytes;
}

EpGroup EpGroup::create(int rank, int world_size, const UniqueIdBytes& id, const EpGroupOptions& options) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    fail(Errc::invalid_argument, "EP group: rank " + std::to_string(rank) + " outside [0, " +
                                     std::to_string(world_size) + ")");
  if (options.comm_sms < 0 || options.comm_sms > 1024)
    fail(Errc::invalid_argument, "EP group: comm_sms " + std::to_string(options.comm_sms) + " outside [0, 1024]");
  const NcclApi& api = nccl();
  runtime::current_device();   // makes the device's primary context current for NCCL
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = options.blocking ? 1 : 0;
  if (options.comm_sms > 0) config.minCTAs = config.maxCTAs = options.comm_sms;
  config.commName = "shapejit-ep";
  ncclUniqueId nid;
  std::memcpy(&nid, id.data(), sizeof nid);
  EpGroup g;
  g.rank_ = rank;
  g.size_ = world_size;
  g.owned_ = true;
  g.options_ = options;
  SHAPEJIT_NCCL(api.ncclCommInitRankConfig(&g.comm_, world_size, nid, rank, &config), nullptr);
  g.wait_ready("ncclCommInitRankConfig");
  return g;
}

EpGroup EpGroup::from_launcher(const EpGroupOptions& options) {
  auto env = launch_env_from_environment();
  if (!env)
    fail(Errc::invalid_argument, "EP group: no launcher environment (set SHAPEJIT_EP_RANK and "
                                 "SHAPEJIT_EP_WORLD_SIZE, or RANK/WORLD_SIZE)");
  if (env->id_file.empty())
    fail(Errc::invalid_argument, "EP group: set SHAPEJIT_EP_ID_FILE to a path every rank can read");
  const UniqueIdBytes id = exchange_id_via_file(env->id_file, env->rank, new_unique_id, options.timeout);
  const auto& api = runtime::driver();
  CUdevice dev;
  CUcontext ctx;
  SHAPEJIT_CU(api.cuDeviceGet(&dev, env->local_rank));
  SHAPEJIT_CU(api.cuDevicePrimaryCtxRetain(&ctx, dev));
  SHAPEJIT_CU(api.cuCtxSetCurrent(ctx));
  return create(env->rank, env->world_size, id, options);
}

EpGroup EpGroup::borrow(ncclComm_t comm, const EpGroupOptions& options) {
  if (!comm) fail(Errc::invalid_argument, "EP group: the borrowed communicator is null");
  const NcclApi& api = nccl();
  EpGroup g;
  g.comm_ = comm;
  g.owned_ = false;
  g.options_ = options;
  SHAPEJIT_NCCL(api.ncclCommUserRank(comm, &g.rank_), comm);
  SHAPEJIT_NCCL(api.ncclCommCount(comm, &g.size_), comm);
  return g;
}

EpGroup::EpGroup(EpGroup&& o) noexcept
    : comm_(std::exchange(o.comm_, nullptr)), rank_(o.rank_), size_(o.size_), owned_(o.owned_),
      failed_(o.failed_), options_(o.options_) {}

EpGroup& EpGroup::operator=(EpGroup&& o) noexcept {
  if (this != &o) {
    this->~EpGroup();
    new (this) EpGroup(std::move(o));
  }
  return *this;
}

EpGroup::~EpGroup() {
  if (!comm_ || !owned_) return;
  const NcclApi& api = nccl();
  if (failed_) {
    api.ncclCommAbort(comm_);
  } else if (api.ncclCommFinalize(comm_) == ncclSuccess || !options_.blocking) {
    // Non-blocking finalize completes asynchronously; give it the timeout, then abort.
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    ncclResult_t state = ncclInProgress;
    while (api.ncclCommGetAsyncError(comm_, &state) == ncclSuccess && state == ncclInProgress &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (state == ncclSuccess) api.ncclCommDestroy(comm_);
    else api.ncclCommAbort(comm_);
  } else {
    api.ncclCommAbort(comm_);
  }
  comm_ = nullptr;
}

void EpGroup::abort() noexcept {
  if (comm_ && owned_) {
    nccl().ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  failed_ = true;
}

void EpGroup::fail_and_abort(const std::string& why) {
  const std::string msg = "EP rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + why;
  abort();
  fail(Errc::driver, msg);
}

void EpGroup::wait_ready(const char* what) {
  if (!comm_) fail(Errc::invalid_argument, std::string("EP group: ") + what + " on an aborted group");
  const NcclApi& api = nccl();
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = api.ncclCommGetAsyncError(comm_, &state);
    if (r != ncclSuccess) fail_and_abort(std::string(what) + ": ncclCommGetAsyncError failed: " + api.ncclGetErrorString(r));
    if (state == ncclSuccess) return;
    if (state != ncclInProgress)
      fail_and_abort(std::string(what) + " failed: " + api.ncclGetErrorString(state) + " (" +
                     api.ncclGetLastError(comm_) + "); communicator aborted");
    if (std::chrono::steady_clock::now() >= deadline)
      fail_and_abort(std::string(what) + " still in progress after " +
                     std::to_string(options_.timeout.count()) + " ms: a peer rank died or stalled; communicator aborted");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void EpGroup::synchronize(CUstream stream, const char* what) {
  wait_ready(what);
  const auto& drv = runtime::driver();
  const NcclApi& api = nccl();
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    const CUresult q = drv.cuStreamQuery(stream);
    if (q == CUDA_SUCCESS) return;
    if (q != CUDA_ERROR_NOT_READY) SHAPEJIT_CU(q);
    ncclResult_t state = ncclSuccess;
    api.ncclCommGetAsyncError(comm_, &state);
    if (state != ncclSuccess && state != ncclInProgress)
      fail_and_abort(std::string(what) + " failed: " + api.ncclGetErrorString(state) + " (" +
                     api.ncclGetLastError(comm_) + "); communicator aborted");
    if (std::chrono::steady_clock::now() >= deadline)
      fail_and_abort(std::string(what) + " did not finish within " + std::to_string(options_.timeout.count()) +
                     " ms: a peer rank died or stalled; communicator aborted");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace shapejit::comm
