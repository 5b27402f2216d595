#include <algorithm>
#include <cstdio>
#include <sstream>

#include "shapejit/planner/timeline.hpp"

namespace shapejit::planner {
namespace {

const char* colour(PassKind k) {
  switch (k) {
    case PassKind::forward: return "#4e79a7";
    case PassKind::backward: return "#59a14f";
    case PassKind::backward_input: return "#8cd17d";
    case PassKind::weight: return "#b07aa1";
  }
  return "#999999";
}

// Text inside SVG elements: op labels carry '&' for overlapped pairs.
std::string xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

}  // namespace

std::string timeline_svg(const Schedule& s, const SimulationResult& res) {
  constexpr double kLeft = 70, kTop = 40, kRow = 30, kBox = 24, kPlot = 1200;
  const double scale = res.makespan > 0 ? kPlot / res.makespan : 1;
  const double height = kTop + s.ranks * kRow + 50;
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << fmt(kLeft + kPlot + 20) << "\" height=\""
    << fmt(height) << "\" font-family=\"sans-serif\" font-size=\"10\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"13\">" << to_string(s.kind) << ": " << s.ranks
    << " ranks, " << s.stages << " stages, " << s.micro_batches << " micro-batches, makespan " << fmt(res.makespan)
    << ", worst bubble " << fmt(res.max_bubble()) << "</text>\n";
  for (int r = 0; r < s.ranks; ++r) {
    const double y = kTop + r * kRow;
    o << "<text x=\"5\" y=\"" << fmt(y + kBox * 0.7) << "\">rank " << r << "</text>\n";
    o << "<rect x=\"" << kLeft << "\" y=\"" << fmt(y) << "\" width=\"" << kPlot << "\" height=\"" << kBox
      << "\" fill=\"#f3f3f3\"/>\n";
    for (size_t i = 0; i < s.ops[r].size(); ++i) {
      const PipelineOp& op = s.ops[r][i];
      const OpTiming& t = res.timing[r][i];
      const double x = kLeft + t.start * scale, w = std::max(0.5, (t.end - t.start) * scale);
      o << "<g><title>rank " << r << " " << xml(op_label(op)) << " stage " << op.pass[0].stage;
      if (op.overlapped()) o << "&amp;" << op.pass[1].stage;
      o << " [" << fmt(t.start) << ", " << fmt(t.end) << "]</title>";
      if (op.overlapped()) {
        o << "<rect x=\"" << fmt(x) << "\" y=\"" << fmt(y) << "\" width=\"" << fmt(w) << "\" height=\""
          << fmt(kBox / 2) << "\" fill=\"" << colour(op.pass[0].kind) << "\"/>";
        o << "<rect x=\"" << fmt(x) << "\" y=\"" << fmt(y + kBox / 2) << "\" width=\"" << fmt(w) << "\" height=\""
          << fmt(kBox / 2) << "\" fill=\"" << colour(op.pass[1].kind) << "\"/>";
        o << "<rect x=\"" << fmt(x) << "\" y=\"" << fmt(y) << "\" width=\"" << fmt(w) << "\" height=\"" << kBox
          << "\" fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\"/>";
      } else {
        o << "<rect x=\"" << fmt(x) << "\" y=\"" << fmt(y) << "\" width=\"" << fmt(w) << "\" height=\"" << kBox
          << "\" fill=\"" << colour(op.pass[0].kind) << "\" stroke=\"white\" stroke-width=\"0.5\"/>";
      }
      if (w >= 14) {
        const std::string label = op.overlapped() ? std::to_string(op.pass[0].micro_batch) + "/" +
                                                        std::to_string(op.pass[1].micro_batch)
                                                  : std::to_string(op.pass[0].micro_batch);
        o << "<text x=\"" << fmt(x + w / 2) << "\" y=\"" << fmt(y + kBox * 0.65)
          << "\" text-anchor=\"middle\" fill=\"white\">" << label << "</text>";
      }
      o << "</g>\n";
    }
  }
  const double ly = kTop + s.ranks * kRow + 20;
  const std::pair<const char*, const char*> legend[] = {{"#4e79a7", "F forward"},
                                                        {"#59a14f", "B backward"},
                                                        {"#8cd17d", "I input-gradient backward"},
                                                        {"#b07aa1", "W weight gradient"}};
  double lx = kLeft;
  for (const auto& [c, name] : legend) {
    o << "<rect x=\"" << fmt(lx) << "\" y=\"" << fmt(ly) << "\" width=\"12\" height=\"12\" fill=\"" << c << "\"/>";
    o << "<text x=\"" << fmt(lx + 16) << "\" y=\"" << fmt(ly + 10) << "\">" << name << "</text>\n";
    lx += 170;
  }
  o << "<rect x=\"" << fmt(lx) << "\" y=\"" << fmt(ly) << "\" width=\"12\" height=\"12\" fill=\"none\" "
    << "stroke=\"#222\" stroke-width=\"1.5\"/><text x=\"" << fmt(lx + 16) << "\" y=\"" << fmt(ly + 10)
    << "\">overlapped F&amp;B (forward over backward)</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace shapejit::planner
