// The overlap schedule as a picture, in the manner of DeepSeek's prefill/decode overlap figures:
// per micro-batch one compute row and one communication row, each op a box at its (simulated or
// measured) time, arrows where an op waits for one on another row.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "shapejit/planner/overlap_schedule.hpp"

namespace shapejit::planner {
namespace {

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

const char* colour(OverlapOpKind k, int micro_batch) {
  // Micro-batch 0 in the darker shade, 1 in the lighter, as the published figures tell them apart.
  static const char* shades[4][2] = {{"#f28e2b", "#ffbe7d"},   // attention
                                     {"#4e79a7", "#a0cbe8"},   // dispatch
                                     {"#59a14f", "#8cd17d"},   // experts
                                     {"#b07aa1", "#d4a6c8"}};  // combine
  return shades[static_cast<int>(k)][micro_batch % 2];
}

}  // namespace

std::string overlap_schedule_svg(const OverlapSchedule& s) {
  constexpr double kLeft = 190, kTop = 50, kRow = 34, kBox = 24, kPlot = 1100;
  const int rows = 2 * s.micro_batches;
  const double scale = s.makespan_us > 0 ? kPlot / s.makespan_us : 1;
  const double height = kTop + rows * kRow + 60;
  auto row_of = [&](const OverlapOp& op) {
    return 2 * op.micro_batch + (op.stream == OverlapStream::communication ? 1 : 0);
  };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fmt(kLeft + kPlot + 20) << "\" height=\""
    << fmt(height) << "\" font-family=\"sans-serif\" font-size=\"10\">\n";
  o << "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
       "markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker></defs>\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"10\" y=\"20\" font-size=\"13\">" << s.phase << ": "
    << (s.micro_batches == 2 ? "two micro-batches " + std::to_string(s.tokens[0]) + " + " + std::to_string(s.tokens[1])
                             : "one micro-batch of " + std::to_string(s.tokens[0]))
    << " tokens, " << s.layers << " MoE layer" << (s.layers > 1 ? "s" : "") << ", compute on " << s.compute_sms
    << " SMs, communication on " << s.comm_sms << " SMs; makespan " << fmt(s.makespan_us) << " us</text>\n";
  for (int r = 0; r < rows; ++r) {
    const double y = kTop + r * kRow;
    const bool comm = r % 2;
    o << "<text x=\"5\" y=\"" << fmt(y + kBox * 0.7) << "\">micro-batch " << r / 2 << " "
      << (comm ? "communication (" + std::to_string(s.comm_sms) : "compute (" + std::to_string(s.compute_sms))
      << " SMs)</text>\n";
    o << "<rect x=\"" << kLeft << "\" y=\"" << fmt(y) << "\" width=\"" << kPlot << "\" height=\"" << kBox
      << "\" fill=\"#f3f3f3\"/>\n";
  }
  for (const OverlapOp& op : s.ops) {
    const double y = kTop + row_of(op) * kRow;
    const double x = kLeft + op.start_us * scale, w = std::max(0.5, (op.end_us - op.start_us) * scale);
    o << "<g><title>" << op.label() << " " << to_string(op.kind) << ", layer " << op.layer << ", micro-batch "
      << op.micro_batch << ", " << op.sms << " SMs [" << fmt(op.start_us) << ", " << fmt(op.end_us)
      << "] us</title><rect x=\"" << fmt(x) << "\" y=\"" << fmt(y) << "\" width=\"" << fmt(w) << "\" height=\""
      << kBox << "\" fill=\"" << colour(op.kind, op.micro_batch) << "\" stroke=\"white\" stroke-width=\"0.5\"/>";
    if (w >= 16)
      o << "<text x=\"" << fmt(x + w / 2) << "\" y=\"" << fmt(y + kBox * 0.65) << "\" text-anchor=\"middle\">"
        << op.label() << "</text>";
    o << "</g>\n";
  }
  // Arrows: from the end of each cross-row dependency to the start of the op that waits for it.
  for (const OverlapOp& op : s.ops)
    for (int d : op.deps) {
      const OverlapOp& from = s.ops[d];
      if (row_of(from) == row_of(op)) continue;
      const double y0 = kTop + row_of(from) * kRow + kBox / 2, y1 = kTop + row_of(op) * kRow + kBox / 2;
      o << "<line class=\"dep\" x1=\"" << fmt(kLeft + from.end_us * scale) << "\" y1=\"" << fmt(y0) << "\" x2=\""
        << fmt(kLeft + op.start_us * scale) << "\" y2=\"" << fmt(y1)
        << "\" stroke=\"#333\" stroke-width=\"0.8\" marker-end=\"url(#arrow)\"/>\n";
    }
  const double ly = kTop + rows * kRow + 20;
  double lx = kLeft;
  for (OverlapOpKind k : {OverlapOpKind::attention, OverlapOpKind::dispatch, OverlapOpKind::experts,
                          OverlapOpKind::combine}) {
    o << "<rect x=\"" << fmt(lx) << "\" y=\"" << fmt(ly) << "\" width=\"12\" height=\"12\" fill=\"" << colour(k, 0)
      << "\"/><text x=\"" << fmt(lx + 16) << "\" y=\"" << fmt(ly + 10) << "\">" << letter(k) << " "
      << to_string(k) << "</text>\n";
    lx += 130;
  }
  o << "<text x=\"" << fmt(lx) << "\" y=\"" << fmt(ly + 10) << "\">arrow: waits for (event)</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace shapejit::planner
