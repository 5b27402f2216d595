// `shapejit bench ep` end to end on the host: --overlap's plan checks (exit 2 before anything
// else) and, on a machine without a GPU or NCCL, the clear failure that writes no SVG.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli_run.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/runtime/driver_api.hpp"

namespace fs = std::filesystem;
using shapejit::testing::run_cli;

namespace {

const std::string kProfile =
    std::string(SHAPEJIT_SOURCE_DIR) + "/planner/profiles/h800_deepseek_v3_ep32_prefill_ep128_decode.json";

TEST(BenchEpCli, OverlapArgumentsAreCheckedBeforeTheGpu) {
  const fs::path dir = shapejit::testing::fresh_dir("ep-args");
  const std::string svg = (dir / "run.svg").string();
  struct Case { std::string args, says; };
  for (const Case& c : {Case{"--overlap --svg " + svg, "needs --profile"},
                        Case{"--overlap --profile " + kProfile + " --phase training --svg " + svg, "no phase 'training'"},
                        Case{"--overlap --profile " + (dir / "none.json").string(), (dir / "none.json").string()},
                        Case{"--svg " + svg, "go with --overlap"},
                        Case{"--overlap --profile " + kProfile + " --plan " + (dir / "none.json").string(), "--plan"},
                        Case{"--overlap --profile " + kProfile + " --svg " + (dir / "no_dir" / "x.svg").string(),
                             (dir / "no_dir").string()}}) {
    const auto r = run_cli("bench ep " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(fs::exists(svg));
}

TEST(BenchEpCli, OverlapWithoutAGpuOrNcclSaysWhyAndWritesNoSvg) {
  std::string why;
  if (shapejit::runtime::driver_available(&why) && shapejit::comm::nccl_available(&why))
    GTEST_SKIP() << "a GPU and NCCL are present: this checks the path without them";
  const fs::path dir = shapejit::testing::fresh_dir("ep-nogpu");
  const std::string svg = (dir / "run.svg").string();
  // A plan given as `plan overlap --json` output, as a user passes it.
  const auto plan = run_cli("plan overlap --json --profile " + kProfile);
  ASSERT_EQ(plan.exit_code, 0) << plan.out;
  std::ofstream(dir / "plan.json") << plan.out;
  const auto r = run_cli("bench ep --overlap --profile " + kProfile + " --phase decode --plan " +
                         (dir / "plan.json").string() + " --svg " + svg);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("shapejit bench ep: needs a CUDA GPU and NCCL: " + why), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(svg + " not written"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(svg));
}

}  // namespace
