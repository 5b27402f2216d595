// Timeline pictures: every op drawn, overlapped pairs marked, text Gantt consistent with times.
#include <gtest/gtest.h>

#include "shapejit/planner/timeline.hpp"

using namespace shapejit::planner;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST(Timeline, SvgDrawsOneGroupPerOpAndMarksOverlappedPairs) {
  const Schedule s = make_schedule(ScheduleKind::dualpipe, 4, 10);
  const SimulationResult res = simulate(s, {1, 2, 1, 2.5, 0});
  const std::string svg = timeline_svg(s, res);
  size_t ops = 0, overlapped = 0;
  for (const auto& rank : s.ops)
    for (const auto& op : rank) {
      ++ops;
      overlapped += op.overlapped();
    }
  ASSERT_GT(overlapped, 0u);
  EXPECT_EQ(count(svg, "<g><title>"), ops);
  EXPECT_EQ(count(svg, "fill=\"none\" stroke=\"#222\""), overlapped + 1);     // + the legend swatch
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Well-formed text: every '&' starts an entity (overlapped labels read "F3&amp;B1").
  for (size_t at = svg.find('&'); at != std::string::npos; at = svg.find('&', at + 1))
    EXPECT_EQ(svg.compare(at, 5, "&amp;"), 0) << svg.substr(at, 20);
  for (int r = 0; r < s.ranks; ++r) EXPECT_NE(svg.find(">rank " + std::to_string(r) + "<"), std::string::npos);
}

TEST(Timeline, TextGanttMatchesBusyTime) {
  const Schedule s = make_schedule(ScheduleKind::one_f_one_b, 4, 8);
  const SimulationResult res = simulate(s, {1, 2, 1, 0, 0});
  // Makespan (8 + 3) × 3 = 33 time units over 33 columns: one column per unit.
  const std::string text = timeline_text(s, res, 33);
  // B takes two columns; rank 0 waits 6 units for its first gradient and 1 before each late B.
  EXPECT_NE(text.find("rank 0  |FFFF......BBFBBFBBFBBFBB.BB.BB.BB|"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 0: F0 F1 F2 F3 B0 F4 B1"), std::string::npos) << text;
  // Idle columns equal the bubble on every rank (9 = (P−1)(F+B)).
  size_t line = 0;
  for (int r = 0; r < 4; ++r) {
    line = text.find("|", text.find("rank " + std::to_string(r) + "  |"));
    const std::string gantt = text.substr(line + 1, 33);
    EXPECT_EQ(std::count(gantt.begin(), gantt.end(), '.'), 9) << gantt;
  }
}

TEST(Timeline, OpLabelsNameKindAndMicroBatch) {
  const Schedule s = make_schedule(ScheduleKind::dualpipev, 2, 4);
  std::string all;
  for (const auto& op : s.ops[0]) all += op_label(op) + " ";
  EXPECT_NE(all.find("&B"), std::string::npos) << all;
  EXPECT_NE(all.find("W"), std::string::npos) << all;
}

TEST(Timeline, TextGanttColumnsAreThoseWhoseMidpointAnOpCovers) {
  // The Gantt tests only the columns near each op; it must mark exactly the columns the
  // definition (midpoint inside [start, end)) gives, at any width.
  for (const ScheduleKind kind : {ScheduleKind::one_f_one_b, ScheduleKind::zb1p, ScheduleKind::dualpipev}) {
    const Schedule s = make_schedule(kind, 4, 8);
    const SimulationResult res = simulate(s, {1.3, 2.1, 0.7, 0, 0.05});
    for (const int width : {8, 33, 96, 1000}) {
      const std::string text = timeline_text(s, res, width);
      const double per_col = res.makespan / width;
      for (int r = 0; r < s.ranks; ++r) {
        std::string want(size_t(width), '.');
        for (size_t i = 0; i < s.ops[r].size(); ++i) {
          const PipelineOp& op = s.ops[r][i];
          const char c = op.overlapped() ? 'X' : op.pass[0].kind == PassKind::backward_input ? 'b' : char(op.pass[0].kind);
          for (int col = 0; col < width; ++col) {
            const double mid = (col + 0.5) * per_col;
            if (mid >= res.timing[r][i].start && mid < res.timing[r][i].end) want[size_t(col)] = c;
          }
        }
        EXPECT_NE(text.find("|" + want + "|"), std::string::npos) << to_string(kind) << " width " << width << " rank " << r;
      }
    }
  }
}
