// Unique-id exchange through a file and launcher environment variables (see bootstrap.hpp).
#include "shapejit/comm/bootstrap.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "shapejit/error.hpp"

namespace shapejit::comm {
namespace fs = std::filesystem;

UniqueIdBytes exchange_id_via_file(const fs::path& path, int rank,
                                   const std::function<UniqueIdBytes()>& make,
                                   std::chrono::milliseconds timeout) {
  UniqueIdBytes id{};
  if (rank == 0) {
    id = make();
    const fs::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(id.data(), id.size());
      if (!out) fail(Errc::io, "EP bootstrap: cannot write the unique id to " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(Errc::io, "EP bootstrap: cannot move the unique id into " + path.string() + ": " + ec.message());
    return id;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::ifstream in(path, std::ios::binary);
    if (in && in.read(id.data(), id.size()) && in.gcount() == static_cast<std::streamsize>(id.size()))
      return id;
    if (std::chrono::steady_clock::now() >= deadline)
      fail(Errc::io, "EP bootstrap: rank " + std::to_string(rank) + " waited " +
                         std::to_string(timeout.count()) + " ms for rank 0's unique id in " +
                         path.string() + " (did rank 0 start, and do all ranks see that path?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

std::optional<int> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0 || n > (1 << 24))
    fail(Errc::invalid_argument, std::string("EP launch: ") + name + "='" + v + "' is not a rank/size");
  return static_cast<int>(n);
}

}  // namespace

std::optional<LaunchEnv> launch_env_from_environment() {
  static const char* pairs[][2] = {{"SHAPEJIT_EP_RANK", "SHAPEJIT_EP_WORLD_SIZE"},
                                   {"RANK", "WORLD_SIZE"},
                                   {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                   {"PMI_RANK", "PMI_SIZE"},
                                   {"SLURM_PROCID", "SLURM_NTASKS"}};
  for (const auto& pair : pairs) {
    auto rank = env_int(pair[0]);
    auto world = env_int(pair[1]);
    if (!rank || !world) continue;
    if (*world < 1 || *rank >= *world)
      fail(Errc::invalid_argument, std::string("EP launch: ") + pair[0] + "=" + std::to_string(*rank) +
                                       " is outside [0, " + pair[1] + "=" + std::to_string(*world) + ")");
    LaunchEnv env;
    env.rank = *rank;
    env.world_size = *world;
    env.source = std::string(pair[0]) + "/" + pair[1];
    for (const char* local : {"SHAPEJIT_EP_LOCAL_RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
      if (auto v = env_int(local)) { env.local_rank = *v; break; }
    if (const char* f = std::getenv("SHAPEJIT_EP_ID_FILE"); f && *f) env.id_file = f;
    return env;
  }
  return std::nullopt;
}

}  // namespace shapejit::comm
