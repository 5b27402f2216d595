// The overlap plan's event graph: built from the chooser's plan, checked as data (dependencies,
// stream order, times), equal in makespan to the chooser's own simulation, and drawn as SVG.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/overlap.hpp"
#include "shapejit/planner/overlap_schedule.hpp"

using namespace shapejit::planner;

namespace {

CostProfile example_profile() {
  return read_cost_profile(std::string(SHAPEJIT_SOURCE_DIR) +
                           "/planner/profiles/h800_deepseek_v3_ep32_prefill_ep128_decode.json");
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(OverlapSchedule, MatchesTheChoosersSimulationForEveryPhaseAndLayerCount) {
  const CostProfile profile = example_profile();
  for (const PhaseProfile& phase : profile.phases) {
    const OverlapChoice choice = choose_overlap(phase, profile.sms);
    for (const OverlapCandidate& plan : {choice.best, choice.best_unsplit, choice.best_even_split}) {
      PhaseProfile p = phase;
      p.moe_layers = 3;
      const OverlapCandidate again = evaluate_overlap(p, profile.sms, plan.split, plan.tokens[0], plan.comm_sms);
      const OverlapSchedule s = build_overlap_schedule(p, profile.sms, plan);
      ASSERT_NO_THROW(check_overlap_schedule(s)) << phase.name;
      EXPECT_EQ(s.layers, 3);
      EXPECT_EQ(s.ops.size(), size_t(4 * s.micro_batches * 3));
      EXPECT_NEAR(s.makespan_us, again.layer_us * 3, 1e-6 * s.makespan_us) << phase.name;
    }
  }
}

TEST(OverlapSchedule, TwoMicroBatchesHideCommunicationUnderCompute) {
  const CostProfile profile = example_profile();
  const OverlapChoice choice = choose_overlap(profile.phases[0], profile.sms);
  ASSERT_TRUE(choice.best.split);
  const OverlapSchedule s = build_overlap_schedule(profile.phases[0], profile.sms, choice.best, 1);
  // Issue order of one layer and the waits the runtime inserts (cross-stream data dependencies).
  std::string order;
  for (const auto& op : s.ops) order += op.label() + " ";
  EXPECT_EQ(order, "A0 A1 D0 D1 E0 E1 K0 K1 ");
  // D0 runs while A1 computes: the communication stream is busy during compute.
  EXPECT_LT(s.ops[2].start_us, s.ops[1].end_us);
  EXPECT_EQ(s.ops[4].deps, std::vector<int>{2});   // E0 waits for D0
  EXPECT_EQ(s.ops[7].deps, std::vector<int>{5});   // K1 waits for E1
  EXPECT_EQ(s.compute_sms + s.comm_sms, profile.sms);
}

TEST(OverlapSchedule, BrokenGraphsAreRejectedByName) {
  const CostProfile profile = example_profile();
  const OverlapChoice choice = choose_overlap(profile.phases[0], profile.sms);
  OverlapSchedule s = build_overlap_schedule(profile.phases[0], profile.sms, choice.best, 2);
  OverlapSchedule missing = s;
  missing.ops[4].deps.clear();   // E0 no longer waits for D0
  try {
    check_overlap_schedule(missing);
    FAIL();
  } catch (const shapejit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("E0 does not wait for its dispatch"), std::string::npos) << e.what();
  }
  OverlapSchedule forward = s;
  forward.ops[0].deps = {3};     // A0 waits for a later op: the runtime would deadlock
  EXPECT_THROW(check_overlap_schedule(forward), shapejit::Error);
  OverlapSchedule early = s;
  early.ops[6].start_us = 0;     // K0 before E0 ends
  EXPECT_THROW(check_overlap_schedule(early), shapejit::Error);
  OverlapSchedule layer = s;
  layer.ops[8].deps.clear();     // next layer's A0 does not wait for K0
  EXPECT_THROW(check_overlap_schedule(layer), shapejit::Error);
}

TEST(OverlapSchedule, ReadsTheChoiceThatPlanOverlapWrites) {
  const std::string text = R"({"phases": {"prefill": {"choice": {"split": true, "micro_batch_tokens": [2048, 2048],
      "comm_sms": 20, "layer_us": 900.5, "step_us": 55000}}, "decode": {"choice": {"split": false,
      "micro_batch_tokens": [128], "comm_sms": 0}}}})";
  const OverlapCandidate p = parse_overlap_choice(text, "prefill");
  EXPECT_TRUE(p.split);
  EXPECT_EQ(p.tokens[0], 2048);
  EXPECT_EQ(p.tokens[1], 2048);
  EXPECT_EQ(p.comm_sms, 20);
  const OverlapCandidate d = parse_overlap_choice(text, "decode");
  EXPECT_FALSE(d.split);
  EXPECT_EQ(d.tokens[0], 128);
  EXPECT_THROW(parse_overlap_choice(text, "training"), shapejit::Error);
  EXPECT_THROW(parse_overlap_choice("{", "prefill"), shapejit::Error);
  EXPECT_THROW(parse_overlap_choice(R"({"phases": {"prefill": {"choice": {"split": true, "micro_batch_tokens": [1],
      "comm_sms": 2}}}})", "prefill"), shapejit::Error);
}

TEST(OverlapSchedule, SvgHasTwoRowsPerMicroBatchAndDependencyArrows) {
  const CostProfile profile = example_profile();
  const OverlapChoice choice = choose_overlap(profile.phases[0], profile.sms);
  const OverlapSchedule s = build_overlap_schedule(profile.phases[0], profile.sms, choice.best, 1);
  const std::string svg = overlap_schedule_svg(s);
  EXPECT_EQ(svg.rfind("</svg>"), svg.size() - 7);
  EXPECT_EQ(count(svg, "micro-batch 0 compute ("), 1);
  EXPECT_EQ(count(svg, "micro-batch 1 communication ("), 1);
  EXPECT_EQ(count(svg, "<title>"), 8);
  // Cross-row waits in one layer: D_x on A_x, E_x on D_x, K_x on E_x for both micro-batches.
  EXPECT_EQ(count(svg, "class=\"dep\""), 6);
  EXPECT_NE(svg.find(std::to_string(s.comm_sms) + " SMs)"), std::string::npos);
}

}  // namespace

namespace {

// A measured run as EpOverlapLayer::measured() returns it, from synthetic times: every op 30%
// longer than planned and the communication ops 5 us late, so the drawing must follow the
// measured times, not the plan's.
TEST(OverlapSchedule, MeasuredRunIsDrawnAtItsMeasuredTimes) {
  const CostProfile profile = example_profile();
  const OverlapChoice choice = choose_overlap(profile.phases[0], profile.sms);
  const OverlapSchedule plan = build_overlap_schedule(profile.phases[0], profile.sms, choice.best, 1);
  ASSERT_EQ(plan.micro_batches, 2) << "the example's first phase is expected to split";
  std::vector<double> start, end;
  for (const OverlapOp& op : plan.ops) {
    const double late = op.stream == OverlapStream::communication ? 5.0 : 0.0;
    start.push_back(op.start_us * 1.3 + late);
    end.push_back(op.end_us * 1.3 + late);
  }
  const OverlapSchedule m = measured_overlap_schedule(plan, start, end);
  EXPECT_EQ(m.phase, plan.phase + " (measured)");
  EXPECT_DOUBLE_EQ(m.makespan_us, *std::max_element(end.begin(), end.end()));
  const std::string svg = overlap_schedule_svg(m);
  EXPECT_NE(svg.find(plan.phase + " (measured): two micro-batches"), std::string::npos);
  for (int mb : {0, 1})
    for (const char* stream : {"compute (", "communication ("})
      EXPECT_EQ(count(svg, "micro-batch " + std::to_string(mb) + " " + stream), 1) << mb << stream;
  EXPECT_EQ(count(svg, "<title>"), int(plan.ops.size()));
  EXPECT_EQ(count(svg, "class=\"dep\""), 6);
  // Every box's tooltip carries its measured interval, e.g. "D1 dispatch, layer 0, micro-batch 1".
  for (std::size_t i = 0; i < m.ops.size(); ++i) {
    char interval[64];
    std::snprintf(interval, sizeof interval, "[%.2f, %.2f] us", start[i], end[i]);
    EXPECT_NE(svg.find(m.ops[i].label() + " " + to_string(m.ops[i].kind) + ", layer 0, micro-batch " +
                       std::to_string(m.ops[i].micro_batch) + ", " + std::to_string(m.ops[i].sms) + " SMs " + interval),
              std::string::npos)
        << m.ops[i].label() << " " << interval;
  }
  char makespan[64];
  std::snprintf(makespan, sizeof makespan, "makespan %.2f us", m.makespan_us);
  EXPECT_NE(svg.find(makespan), std::string::npos) << makespan;
  // Bad measurements are refused by name.
  EXPECT_THROW(measured_overlap_schedule(plan, start, {}), shapejit::Error);
  std::vector<double> backwards = end;
  backwards[2] = start[2] - 1;
  try {
    measured_overlap_schedule(plan, start, backwards);
    FAIL() << "accepted an op that ends before it starts";
  } catch (const shapejit::Error& e) {
    EXPECT_NE(std::string(e.what()).find(plan.ops[2].label()), std::string::npos) << e.what();
  }
}

}  // namespace
