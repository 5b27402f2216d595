// ep_rank_check: one process of the multi-rank EP test (scripts/ep_multirank.sh starts N of
// them). Rank, world size and the id file come from the launcher's variables. Exit 0: this
// rank's check passed (or, with --expect-error TEXT, it failed with an error containing TEXT);
// 1: a mismatch or an unexpected error; 77: skipped (no GPU or no NCCL), with the reason.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ep_world_check.hpp"
#include "shapejit/comm/nccl_api.hpp"
#include "shapejit/error.hpp"
#include "shapejit/runtime/driver_api.hpp"

using namespace shapejit;

int main(int argc, char** argv) {
  test::EpCheckOptions o;
  std::string expect_error;
  int die_rank = -1, timeout_ms = 60000;
  bool probe = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--probe") probe = true;
    else if (a == "--mode") o.mode = next() == "low-latency" ? comm::EpMode::low_latency : comm::EpMode::normal;
    else if (a == "--input") o.input = next();
    else if (a == "--tokens") o.max_tokens = std::stoi(next());
    else if (a == "--hidden") o.hidden = std::stoi(next());
    else if (a == "--top-k") o.top_k = std::stoi(next());
    else if (a == "--experts-per-rank") o.experts_per_rank_base = std::stoi(next());
    else if (a == "--extra-slots") o.extra_slots = std::stoi(next());
    else if (a == "--capacity") o.capacity = std::stoi(next());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--fail") o.fail = next();
    else if (a == "--fail-rank") o.fail_rank = std::stoi(next());
    else if (a == "--die-rank") die_rank = std::stoi(next());
    else if (a == "--timeout-ms") timeout_ms = std::stoi(next());
    else if (a == "--expect-error") expect_error = next();
    else { std::fprintf(stderr, "unknown argument %s\n", a.c_str()); return 2; }
  }
  std::string why;
  if (!runtime::driver_available(&why)) { std::printf("SKIP: needs a CUDA GPU: %s\n", why.c_str()); return 77; }
  if (!comm::nccl_available(&why)) { std::printf("SKIP: %s\n", why.c_str()); return 77; }
  if (probe) return 0;
  try {
    comm::EpGroupOptions go;
    go.timeout = std::chrono::milliseconds(timeout_ms);
    comm::EpGroup group = comm::EpGroup::from_launcher(go);
    if (group.rank() == die_rank) {
      std::printf("rank %d: exiting without taking part (injected failure)\n", group.rank());
      std::_Exit(0);
    }
    test::EpCheckResult r;
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = test::run_ep_world_check(group, o, r);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!expect_error.empty()) {
      std::printf("rank %d: expected an error containing '%s', the check %s\n", group.rank(), expect_error.c_str(),
                  ok ? "passed" : "failed");
      return 1;
    }
    std::printf("%s %s (%.2f s)\n", ok ? "PASS" : "FAIL", r.report.c_str(), s);
    return ok ? 0 : 1;
  } catch (const Error& e) {
    const bool expected = !expect_error.empty() && std::string(e.what()).find(expect_error) != std::string::npos;
    std::printf("%s error (%s): %s\n", expected ? "PASS expected" : "FAIL", to_string(e.code()), e.what());
    return expected ? 0 : 1;
  }
}
