#pragma once
// Getting every process of an expert-parallel group the same NCCL unique id and its rank:
// through a shared file (rank 0 writes it atomically, the others wait for it) or from the
// launcher's environment variables.
#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace shapejit::comm {

// The 128 bytes of an ncclUniqueId, kept opaque so this header needs no NCCL.
using UniqueIdBytes = std::array<char, 128>;

// Rank 0 calls make() and writes the bytes to `path` (a temporary file renamed into place, so a
// reader never sees half of it); other ranks poll for the file until `timeout` and throw
// Error(io) naming the path and the wait when it never appears. Every rank returns the bytes.
UniqueIdBytes exchange_id_via_file(const std::filesystem::path& path, int rank,
                                   const std::function<UniqueIdBytes()>& make,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Rank and world size from a launcher: SHAPEJIT_EP_RANK/SHAPEJIT_EP_WORLD_SIZE, torchrun's
// RANK/WORLD_SIZE, Open MPI's OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/PMI_SIZE, Slurm's
// SLURM_PROCID/SLURM_NTASKS (first complete pair wins); the local rank (device ordinal) from
// SHAPEJIT_EP_LOCAL_RANK, LOCAL_RANK, OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID, else 0; the
// id file from SHAPEJIT_EP_ID_FILE. std::nullopt when no pair is set; Error(invalid_argument)
// when a value is not a number or rank ∉ [0, world).
struct LaunchEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string source;      // which variables were used, e.g. "RANK/WORLD_SIZE"
  std::string id_file;     // empty when SHAPEJIT_EP_ID_FILE is unset
};
std::optional<LaunchEnv> launch_env_from_environment();

}  // namespace shapejit::comm
