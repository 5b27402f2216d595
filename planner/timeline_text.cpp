#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "shapejit/planner/timeline.hpp"

namespace shapejit::planner {

std::string op_label(const PipelineOp& op) {
  std::string s;
  for (int i = 0; i < op.passes; ++i) {
    if (i) s += "&";
    s += char(op.pass[i].kind);
    s += std::to_string(op.pass[i].micro_batch);
  }
  return s;
}

std::string timeline_text(const Schedule& s, const SimulationResult& res, int width) {
  std::ostringstream out;
  char head[256];
  std::snprintf(head, sizeof head, "%s: %d ranks, %d stages, %d micro-batches, makespan %.4g\n", to_string(s.kind),
                s.ranks, s.stages, s.micro_batches, res.makespan);
  out << head;
  width = std::max(width, 8);
  const double per_col = res.makespan > 0 ? res.makespan / width : 1;
  for (int r = 0; r < s.ranks; ++r) {
    std::string line(size_t(width), '.');
    for (size_t i = 0; i < s.ops[r].size(); ++i) {
      const PipelineOp& op = s.ops[r][i];
      const char c = op.overlapped() ? 'X' : op.pass[0].kind == PassKind::backward_input ? 'b' : char(op.pass[0].kind);
      // A column shows the op covering its midpoint. Only the columns near the op's span are
      // tested (one either side for rounding), so a rank costs ops + width, not ops × width.
      const double start = res.timing[r][i].start, end = res.timing[r][i].end;
      const int first = std::clamp(int(std::floor(start / per_col - 0.5)) - 1, 0, width);
      const int last = std::clamp(int(std::ceil(end / per_col - 0.5)) + 1, 0, width);
      for (int col = first; col < last; ++col) {
        const double mid = (col + 0.5) * per_col;
        if (mid >= start && mid < end) line[size_t(col)] = c;
      }
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, " bubble %.4g, peak act %d, params %dx", res.ranks[r].bubble,
                  res.ranks[r].peak_activations, res.ranks[r].parameter_copies);
    out << "rank " << r << (r < 10 ? "  |" : " |") << line << "|" << tail << "\n";
  }
  out << "order (F forward, B backward, I input-gradient backward, W weight gradient, & overlapped):\n";
  for (int r = 0; r < s.ranks; ++r) {
    out << "rank " << r << ":";
    for (const auto& op : s.ops[r]) out << " " << op_label(op);
    out << "\n";
  }
  return out.str();
}

}  // namespace shapejit::planner
