// A session process killed with SIGKILL in the middle of its measurements resumes by id
// without redoing anything it recorded. The measuring step is injected and slow on purpose:
// this checks persistence and resume, not speed.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime::tuning;
using tuning_test::FormulaMeasurer;

namespace {

SessionRequest slow_request() {
  SessionRequest r;
  r.ops = {"gemm_fp8"};
  r.manifest_json = tuning_test::two_shapes();
  r.space.max_candidates = 8;
  r.runs = 10;
  return r;
}

long long measured_records(const std::filesystem::path& db, const std::string& id) {
  cache::StoreOptions o = tuning_test::quiet();
  o.create = false;
  cache::KernelStore store(db, o);
  return static_cast<long long>(
      store.tuning_records(cache::TuningQuery{.session = id, .status = cache::kTuningMeasured}).size());
}

}  // namespace

TEST(TuningSessionKill, ASessionKilledWithSigkillResumesWithoutRedoingRecordedWork) {
  const auto dir = tuning_test::fresh_dir("kill");
  const auto db = dir / "k.db";
  const std::string id = "kill-test-session";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child opens its own store (never carried across fork) and measures slowly.
    cache::KernelStore store(db, tuning_test::quiet());
    FormulaMeasurer m;
    m.sleep_ms = 150;
    SessionOptions o;
    o.id = id;
    o.compile = tuning_test::fake_compile();
    o.measurer = &m;
    run_session(store, slow_request(), tuning_test::target(), o);
    ::_exit(0);
  }
  // Kill it once a few measurements are on disk, well before it could finish.
  long long before = 0;
  for (int i = 0; i < 400 && before < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    before = measured_records(db, id);
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the session finished before it was killed; make it slower";
  before = measured_records(db, id);
  ASSERT_GE(before, 3);

  cache::KernelStore store(db, tuning_test::quiet());
  ASSERT_EQ(store.tuning_session(id)->state, "running") << "killed mid-way: never marked finished";
  std::set<std::string> recorded;
  for (const auto& r : store.tuning_records(cache::TuningQuery{.session = id, .status = cache::kTuningMeasured}))
    recorded.insert(r.shape_json + r.config_json);

  FormulaMeasurer m;
  SessionOptions o;
  o.resume = id;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, SessionRequest{}, tuning_test::target(), o);
  EXPECT_EQ(r.state, "complete");
  EXPECT_GE(r.already_recorded, before);
  // Nothing recorded before is measured again, except by the finalists' interleaved rounds.
  for (const std::string& c : recorded) EXPECT_LE(m.measured_configs[c], 1) << c;
  EXPECT_EQ(r.measured + r.already_recorded, r.candidates);
  const auto all = session_records(store, id);
  long long decided = 0, winners = 0;
  for (const auto& rec : all) {
    (rec.status == cache::kTuningWinner ? winners : decided) += 1;
    // Killed during a check or a timing, a correct candidate is timed on resume, not rejected.
    EXPECT_EQ(rec.status == cache::kTuningRejected ? rec.reason : "", "");
    EXPECT_NE(rec.status, cache::kTuningUnmeasured) << rec.reason;
  }
  EXPECT_EQ(decided, r.candidates) << "one record per candidate, none twice";
  EXPECT_EQ(winners, 2);
}
