#pragma once
// An expert-parallel group: the NCCL communicator the exchange runs on, owned (made here from a
// unique id) or borrowed from the host application. Owned communicators are non-blocking by
// default, so that a peer that dies or stalls ends in Error(driver) on every surviving rank
// within options().timeout (ncclCommGetAsyncError polling, then ncclCommAbort) instead of a hang.
// ncclConfig_t's minCTAs/maxCTAs carry the plan's SMs for communication.
#include <cuda.h>

#include <chrono>
#include <string>

#include "shapejit/comm/bootstrap.hpp"

// NCCL's communicator handle, declared as nccl.h declares it, so this header needs no nccl.h.
typedef struct ncclComm* ncclComm_t;

namespace shapejit::comm {

struct EpGroupOptions {
  int comm_sms = 0;        // CTAs NCCL may use (minCTAs = maxCTAs); 0: NCCL's choice
  bool blocking = false;   // owned communicators: blocking NCCL calls (no abort on a stall)
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// A fresh ncclUniqueId (needs NCCL; no GPU).
UniqueIdBytes new_unique_id();

class EpGroup {
 public:
  // Makes the current CUDA device's communicator as `rank` of `world_size`.
  static EpGroup create(int rank, int world_size, const UniqueIdBytes& id,
                        const EpGroupOptions& options = {});
  // Rank, size and device from the launcher's environment (launch_env_from_environment), the
  // id through the file SHAPEJIT_EP_ID_FILE. Throws Error(invalid_argument) when neither is set.
  static EpGroup from_launcher(const EpGroupOptions& options = {});
  // Uses the host application's communicator; it stays the application's (never destroyed or
  // aborted here). comm_sms is then only what the caller says it configured.
  static EpGroup borrow(ncclComm_t comm, const EpGroupOptions& options = {});

  EpGroup(EpGroup&& other) noexcept;
  EpGroup& operator=(EpGroup&& other) noexcept;
  EpGroup(const EpGroup&) = delete;
  EpGroup& operator=(const EpGroup&) = delete;
  ~EpGroup();   // finalize + destroy an owned communicator (abort when it failed)

  int rank() const { return rank_; }
  int size() const { return size_; }
  ncclComm_t comm() const { return comm_; }
  bool owned() const { return owned_; }
  const EpGroupOptions& options() const { return options_; }

  // Waits until the communicator has no call in progress (non-blocking mode). On an async
  // error, or after options().timeout, aborts an owned communicator and throws Error(driver)
  // naming this rank, `what` and NCCL's message.
  void wait_ready(const char* what);
  // Waits for `stream` while polling the communicator's async error, with the same timeout and
  // errors as wait_ready.
  void synchronize(CUstream stream, const char* what);
  // Aborts an owned communicator now (other ranks' pending calls then fail too).
  void abort() noexcept;

 private:
  EpGroup() = default;
  [[noreturn]] void fail_and_abort(const std::string& why);
  ncclComm_t comm_ = nullptr;
  int rank_ = 0, size_ = 1;
  bool owned_ = false, failed_ = false;
  EpGroupOptions options_;
};

}  // namespace shapejit::comm
