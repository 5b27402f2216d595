// Pipeline schedules and the simulator against DualPipe's published table.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <tuple>

#include "shapejit/error.hpp"
#include "shapejit/planner/pipeline.hpp"
#include "shapejit/planner/pipeline_simulator.hpp"

using namespace shapejit::planner;

namespace {

const ScheduleKind kAll[] = {ScheduleKind::one_f_one_b, ScheduleKind::zb1p, ScheduleKind::dualpipe,
                             ScheduleKind::dualpipev};

std::vector<std::pair<int, int>> shapes(ScheduleKind k) {
  if (k == ScheduleKind::dualpipe) return {{2, 4}, {4, 8}, {4, 10}, {6, 12}, {8, 16}, {8, 20}, {8, 30}, {16, 32}};
  if (k == ScheduleKind::dualpipev) return {{1, 2}, {2, 4}, {3, 7}, {4, 8}, {4, 9}, {8, 16}, {8, 21}};
  return {{1, 1}, {2, 3}, {4, 4}, {4, 9}, {8, 8}, {8, 20}, {16, 40}};
}

// Independent count: (kind, stage, micro-batch) → occurrences and owning rank.
void expect_each_pass_once(const Schedule& s) {
  std::map<std::tuple<char, int, int>, int> count;
  for (int r = 0; r < s.ranks; ++r)
    for (const auto& op : s.ops[r])
      for (int i = 0; i < op.passes; ++i) {
        const Pass& p = op.pass[i];
        ++count[{char(p.kind), p.stage, p.micro_batch}];
        EXPECT_EQ(s.rank_of(p.stage, p.micro_batch), r);
      }
  for (int st = 0; st < s.stages; ++st)
    for (int m = 0; m < s.micro_batches; ++m) {
      EXPECT_EQ((count[{'F', st, m}]), 1) << "F" << m << " stage " << st;
      const int full = count[{'B', st, m}], in = count[{'I', st, m}], w = count[{'W', st, m}];
      EXPECT_TRUE((full == 1 && in == 0 && w == 0) || (full == 0 && in == 1 && w == 1))
          << "backward of micro-batch " << m << " at stage " << st << ": B " << full << " I " << in << " W " << w;
    }
}

}  // namespace

TEST(PipelineSchedule, EveryPassOfEveryMicroBatchAppearsOncePerStage) {
  for (ScheduleKind k : kAll)
    for (auto [ranks, m] : shapes(k)) {
      SCOPED_TRACE(std::string(to_string(k)) + " ranks " + std::to_string(ranks) + " mb " + std::to_string(m));
      const Schedule s = make_schedule(k, ranks, m);
      EXPECT_EQ(s.stages, k == ScheduleKind::dualpipev ? 2 * ranks : ranks);
      expect_each_pass_once(s);
      EXPECT_NO_THROW(check_schedule(s));
    }
}

TEST(PipelineSchedule, DependenciesHoldInTheSimulatedTimes) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.2, 3.0);
  for (ScheduleKind k : kAll)
    for (auto [ranks, m] : shapes(k)) {
      PassCosts c{u(rng), 0, 0, 0, u(rng) * 0.3};
      c.backward = u(rng) + 0.5;
      c.weight = c.backward * 0.4;
      c.forward_backward = (c.forward + c.backward) * 0.8;
      const Schedule s = make_schedule(k, ranks, m);
      const SimulationResult res = simulate(s, c);
      std::map<std::tuple<char, int, int>, std::pair<OpTiming, int>> at;  // 'X': B or I
      for (int r = 0; r < s.ranks; ++r)
        for (size_t i = 0; i < s.ops[r].size(); ++i) {
          EXPECT_GE(res.timing[r][i].start, i ? res.timing[r][i - 1].end : 0.0) << "rank runs two ops at once";
          for (int j = 0; j < s.ops[r][i].passes; ++j) {
            const Pass& p = s.ops[r][i].pass[j];
            const char key = p.kind == PassKind::forward ? 'F' : p.kind == PassKind::weight ? 'W' : 'X';
            at[{key, p.stage, p.micro_batch}] = {res.timing[r][i], r};
          }
        }
      auto after = [&](std::tuple<char, int, int> later, std::tuple<char, int, int> earlier) {
        const auto& [tl, rl] = at.at(later);
        const auto& [te, re] = at.at(earlier);
        EXPECT_GE(tl.start + 1e-9, te.end + (rl == re ? 0 : c.p2p))
            << std::get<0>(later) << std::get<2>(later) << "@" << std::get<1>(later) << " before its input";
      };
      for (int st = 0; st < s.stages; ++st)
        for (int mb = 0; mb < m; ++mb) {
          if (st > 0) after({'F', st, mb}, {'F', st - 1, mb});
          after({'X', st, mb}, {'F', st, mb});
          if (st + 1 < s.stages) after({'X', st, mb}, {'X', st + 1, mb});
          if (at.count({'W', st, mb})) after({'W', st, mb}, {'X', st, mb});
        }
    }
}

TEST(PipelineSimulator, BubblesMatchThePublishedFormulasOnUniformCosts) {
  // Uniform chunks: F = 1, B = 2 (input and weight halves of 1 each), W = 1; F&B from no overlap
  // gain (3) to the full one (2). The worst rank's idle time must equal the table's bubble.
  for (ScheduleKind k : kAll)
    for (double fb : {2.0, 2.5, 3.0})
      for (auto [ranks, m] : shapes(k)) {
        if (k != ScheduleKind::dualpipev && ranks > m) continue;  // the table assumes a full pipeline
        const PassCosts c{1, 2, 1, fb, 0};
        const Schedule s = make_schedule(k, ranks, m);
        const SimulationResult res = simulate(s, c);
        const PublishedFigures want = published_figures(k, s.stages, c);
        SCOPED_TRACE(std::string(to_string(k)) + " ranks " + std::to_string(ranks) + " mb " + std::to_string(m) +
                     " F&B " + std::to_string(fb));
        EXPECT_DOUBLE_EQ(res.max_bubble(), want.bubble) << want.bubble_formula;
        EXPECT_EQ(res.max_parameter_copies(), want.parameters);
        EXPECT_EQ(res.max_peak_activations(), want.activations);
        EXPECT_EQ(s.ranks, want.devices);
        // Work is conserved: busy time is the sum of the op costs, the same on every rank here.
        for (const auto& r : res.ranks) EXPECT_DOUBLE_EQ(r.busy + r.bubble, res.makespan);
      }
}

TEST(PipelineSimulator, OneFOneBAndZb1pMatchForOtherChunkCosts) {
  for (auto [F, B, W] : {std::tuple{2.0, 3.0, 1.0}, {1.0, 1.0, 0.5}, {1.0, 2.0, 0.5}})
    for (int ranks : {2, 4, 8}) {
      const PassCosts c{F, B, W, 0, 0};
      for (ScheduleKind k : {ScheduleKind::one_f_one_b, ScheduleKind::zb1p}) {
        const SimulationResult res = simulate(make_schedule(k, ranks, 3 * ranks), c);
        EXPECT_DOUBLE_EQ(res.max_bubble(), published_figures(k, ranks, c).bubble) << to_string(k) << " P " << ranks;
      }
    }
}

TEST(PipelineSimulator, DualPipeBeatsOneFOneBAndLatencyStretchesTheMakespan) {
  const PassCosts c{1, 2, 1, 2.5, 0};
  const double t1 = simulate(make_schedule(ScheduleKind::one_f_one_b, 8, 20), c).makespan;
  const double t2 = simulate(make_schedule(ScheduleKind::dualpipe, 8, 20), c).makespan;
  EXPECT_LT(t2, t1);
  PassCosts slow = c;
  slow.p2p = 0.5;
  EXPECT_GT(simulate(make_schedule(ScheduleKind::dualpipe, 8, 20), slow).makespan, t2);
}

TEST(PipelineSchedule, TransfersNameTheNeighbouringRanks) {
  const Schedule s = make_schedule(ScheduleKind::dualpipe, 4, 8);
  for (int r = 0; r < s.ranks; ++r)
    for (const auto& op : s.ops[r])
      for (int i = 0; i < op.passes; ++i) {
        const Pass& p = op.pass[i];
        if (p.kind == PassKind::forward && p.stage + 1 < s.stages) {
          EXPECT_EQ(p.send_to, s.rank_of(p.stage + 1, p.micro_batch));
        }
        if (p.kind == PassKind::forward && p.stage == 0) {
          EXPECT_EQ(p.recv_from, -1);
        }
        if (p.kind == PassKind::weight) {
          EXPECT_EQ(p.send_to, -1);
        }
      }
  // DualPipeV turns around on the last rank: stage N−1 → stage N stays local.
  const Schedule v = make_schedule(ScheduleKind::dualpipev, 4, 8);
  for (const auto& op : v.ops[3])
    for (int i = 0; i < op.passes; ++i)
      if (op.pass[i].kind == PassKind::forward && op.pass[i].stage == 3) {
        EXPECT_EQ(op.pass[i].send_to, -1);
      }
}

TEST(PipelineSchedule, BadCountsAreRejectedWithTheReason) {
  auto message = [](ScheduleKind k, int ranks, int m) {
    try {
      make_schedule(k, ranks, m);
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(ScheduleKind::dualpipe, 7, 28).find("even number of ranks"), std::string::npos);
  EXPECT_NE(message(ScheduleKind::dualpipe, 8, 21).find("even number of micro-batches"), std::string::npos);
  EXPECT_NE(message(ScheduleKind::dualpipe, 8, 14).find("at least 2 × ranks"), std::string::npos);
  EXPECT_NE(message(ScheduleKind::dualpipev, 4, 7).find("at least 2 × ranks"), std::string::npos);
  EXPECT_NE(message(ScheduleKind::one_f_one_b, 0, 4).find("≥ 1"), std::string::npos);
  EXPECT_NE(message(ScheduleKind::zb1p, 100000, 1000000).find("too large"), std::string::npos);
  // DualPipeV has two stages per rank: the bound counts stages, not ranks.
  EXPECT_NE(message(ScheduleKind::dualpipev, 512, 4096).find("too large"), std::string::npos);
  EXPECT_THROW(parse_schedule_kind("gpipe"), shapejit::Error);
  EXPECT_THROW(parse_pass_costs("{\"F\": -1}"), shapejit::Error);
  EXPECT_THROW(parse_pass_costs("{\"B\": 1, \"W\": 2}"), shapejit::Error);
  EXPECT_THROW(parse_pass_costs("{\"X\": 1}"), shapejit::Error);
  const PassCosts c = parse_pass_costs(R"({"F": 2, "B": 4, "W": 1.5, "FB": 5, "p2p": 0.1})");
  EXPECT_DOUBLE_EQ(c.overlapped(), 5);
  EXPECT_DOUBLE_EQ(c.p2p, 0.1);
}
