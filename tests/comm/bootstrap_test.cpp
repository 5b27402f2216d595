// Unique-id exchange through a file, launcher variables, and NCCL loading (which must never be
// needed by anything but communication).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "shapejit/comm/bootstrap.hpp"
#include "shapejit/comm/ep_group.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "support/gpu_test.hpp"

namespace shapejit::test {
namespace {
namespace fs = std::filesystem;

fs::path scratch(const char* name) {
  fs::path p = fs::temp_directory_path() / ("shapejit-ep-" + std::to_string(::getpid()) + "-" + name);
  fs::remove(p);
  return p;
}

TEST(EpBootstrap, EveryRankGetsRankZerosIdThroughAFile) {
  const fs::path path = scratch("id");
  comm::UniqueIdBytes made{};
  for (std::size_t i = 0; i < made.size(); ++i) made[i] = static_cast<char>(i * 7 + 3);
  std::vector<comm::UniqueIdBytes> got(6);
  std::vector<std::thread> ranks;
  for (int r = 5; r >= 0; --r)   // readers start first and wait
    ranks.emplace_back([&, r] { got[r] = comm::exchange_id_via_file(path, r, [&] { return made; }); });
  for (auto& t : ranks) t.join();
  for (const auto& g : got) EXPECT_EQ(g, made);
  fs::remove(path);
}

TEST(EpBootstrap, AMissingRankZeroEndsInAnErrorNotAHang) {
  const fs::path path = scratch("never");
  try {
    comm::exchange_id_via_file(path, 3, [] { return comm::UniqueIdBytes{}; }, std::chrono::milliseconds(100));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::io);
    EXPECT_NE(std::string(e.what()).find("rank 3 waited 100 ms"), std::string::npos) << e.what();
  }
}

struct EnvGuard {
  std::vector<std::string> names;
  void set(const char* n, const char* v) { names.push_back(n); ::setenv(n, v, 1); }
  ~EnvGuard() { for (auto& n : names) ::unsetenv(n.c_str()); }
};

TEST(EpBootstrap, LauncherVariables) {
  for (const char* n : {"SHAPEJIT_EP_RANK", "SHAPEJIT_EP_WORLD_SIZE", "RANK", "WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                        "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "LOCAL_RANK"})
    ::unsetenv(n);
  EXPECT_FALSE(comm::launch_env_from_environment().has_value());
  {
    EnvGuard g;
    g.set("RANK", "3"); g.set("WORLD_SIZE", "8"); g.set("LOCAL_RANK", "1"); g.set("SHAPEJIT_EP_ID_FILE", "/tmp/x");
    auto env = comm::launch_env_from_environment();
    ASSERT_TRUE(env);
    EXPECT_EQ(env->rank, 3); EXPECT_EQ(env->world_size, 8); EXPECT_EQ(env->local_rank, 1);
    EXPECT_EQ(env->source, "RANK/WORLD_SIZE"); EXPECT_EQ(env->id_file, "/tmp/x");
  }
  {
    EnvGuard g;
    g.set("OMPI_COMM_WORLD_RANK", "8"); g.set("OMPI_COMM_WORLD_SIZE", "8");
    EXPECT_THROW(comm::launch_env_from_environment(), Error);
  }
  {
    EnvGuard g;
    g.set("PMI_RANK", "x"); g.set("PMI_SIZE", "2");
    EXPECT_THROW(comm::launch_env_from_environment(), Error);
  }
}

TEST(EpNccl, MissingLibraryIsAClearUnsupportedErrorElseTheToolkitsLoads) {
  std::string why;
  if (!comm::nccl_available(&why)) {
    EXPECT_NE(why.find("NCCL is not available"), std::string::npos) << why;
    try { comm::nccl(); FAIL(); } catch (const Error& e) { EXPECT_EQ(e.code(), Errc::unsupported); }
    GTEST_SKIP() << why;
  }
  EXPECT_GE(comm::nccl().version, 21900) << comm::nccl().path;
}

TEST(EpNccl, BorrowingANullCommunicatorIsRejected) {
  std::string why;
  if (!comm::nccl_available(&why)) GTEST_SKIP() << why;
  EXPECT_THROW(comm::EpGroup::borrow(nullptr), Error);
}

TEST(EpNccl, OneRankGroupOnTheGpu) {
  SHAPEJIT_REQUIRE_GPU();
  std::string why;
  if (!comm::nccl_available(&why)) GTEST_SKIP() << why;
  const auto id = comm::new_unique_id();
  comm::EpGroup g = comm::EpGroup::create(0, 1, id, {.comm_sms = 4});
  EXPECT_EQ(g.rank(), 0);
  EXPECT_EQ(g.size(), 1);
  comm::EpGroup borrowed = comm::EpGroup::borrow(g.comm());
  EXPECT_FALSE(borrowed.owned());
  EXPECT_EQ(borrowed.size(), 1);
}

}  // namespace
}  // namespace shapejit::test
