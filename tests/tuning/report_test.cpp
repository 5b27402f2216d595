// The session report: well-formed SVG that names every measured and rejected candidate, and
// JSON with the baseline, the winner and its speed-up per shape. The session behind it uses
// the injected measurer (session logic, not speed).
#include <gtest/gtest.h>

#include <vector>

#include "tuning_test_util.hpp"

using namespace shapejit;
using namespace shapejit::runtime::tuning;

namespace {

// Every tag closes in order (the report writes no comments, CDATA or DOCTYPE).
std::string xml_error(const std::string& s) {
  std::vector<std::string> open;
  for (std::size_t i = s.find('<'); i != std::string::npos; i = s.find('<', i + 1)) {
    const std::size_t end = s.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.empty()) return "empty tag";
    if (tag[0] == '?') continue;
    const bool closing = tag[0] == '/', self = tag.back() == '/';
    const std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" /", closing ? 1 : 0) - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
      open.pop_back();
    } else if (!self) {
      open.push_back(name);
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> never closed";
}

std::string escaped(std::string s) {
  std::string o;
  for (char c : s) o += c == '"' ? std::string("&quot;") : std::string(1, c);
  return o;
}

}  // namespace

TEST(TuningReport, SvgIsWellFormedAndShowsEveryCandidateAndJsonHasTheSpeedups) {
  const auto dir = tuning_test::fresh_dir("report");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  tuning_test::FormulaMeasurer m;
  m.wrong = [](const Candidate& c) { return tuning_test::config_value(c, "BLOCK_N") == 160; };
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = tuning_test::two_shapes();
  req.space.max_candidates = 6;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  const auto records = session_records(store, r.id);

  const std::string svg = report_svg(r.id, records);
  EXPECT_EQ(xml_error(svg), "");
  EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  int candidates = 0;
  for (const auto& rec : records) {
    if (rec.status != cache::kTuningMeasured && rec.status != cache::kTuningRejected) continue;
    ++candidates;
    // The config as the report spells it: NAME=value pairs.
    const auto j = nlohmann::json::parse(rec.config_json);
    std::string label;
    for (const auto& [k, v] : j.items()) label += (label.empty() ? "" : " ") + k + "=" + v.dump();
    EXPECT_NE(svg.find(escaped(label)), std::string::npos) << label;
  }
  EXPECT_GT(candidates, 4);

  const auto report = nlohmann::json::parse(report_json(r.id, records));
  ASSERT_EQ(report["shapes"].size(), 2u);
  for (const auto& s : report["shapes"]) {
    EXPECT_DOUBLE_EQ(s["baseline_us"].get<double>(), 100.0);
    ASSERT_FALSE(s["winner"].is_null());
    if (!s["winner"]["is_baseline"].get<bool>()) {
      EXPECT_GT(s["winner"]["speedup"].get<double>(), 1.0);
    }
  }
}

// With a reference row per shape (an injected 80 us: this checks the report and session
// logic, not speed), the JSON gives the winner's speed-up over it and the SVG draws it.
TEST(TuningReport, TheSpeedupOverTheReferenceIsShownPerShape) {
  const auto dir = tuning_test::fresh_dir("report-reference");
  cache::KernelStore store(dir / "k.db", tuning_test::quiet());
  tuning_test::FormulaMeasurer m;
  m.reference_us = 80.0;
  SessionRequest req;
  req.ops = {"gemm_fp8"};
  req.manifest_json = tuning_test::two_shapes();
  req.space.max_candidates = 4;
  SessionOptions o;
  o.compile = tuning_test::fake_compile();
  o.measurer = &m;
  const SessionResult r = run_session(store, req, tuning_test::target(), o);
  const auto records = session_records(store, r.id);

  const auto report = nlohmann::json::parse(report_json(r.id, records));
  ASSERT_EQ(report["shapes"].size(), 2u);
  for (const auto& s : report["shapes"]) {
    ASSERT_FALSE(s["reference"].is_null());
    EXPECT_EQ(s["reference"]["name"], "fake cuBLASLt");
    EXPECT_DOUBLE_EQ(s["reference"]["median_us"].get<double>(), 80.0);
    ASSERT_FALSE(s["winner"].is_null());
    const double winner_us = s["winner"]["median_us"].get<double>();
    ASSERT_GT(winner_us, 0.0);
    EXPECT_DOUBLE_EQ(s["speedup_over_reference"].get<double>(), 80.0 / winner_us);
  }
  const std::string svg = report_svg(r.id, records);
  EXPECT_EQ(xml_error(svg), "");
  EXPECT_NE(svg.find("over fake cuBLASLt"), std::string::npos);
  EXPECT_NE(svg.find("class=\"reference\""), std::string::npos);

  // Without a reference the fields are null, not a made-up ratio.
  std::vector<cache::TuningRecord> without;
  for (const auto& rec : records)
    if (rec.status != cache::kTuningReference) without.push_back(rec);
  for (const auto& s : nlohmann::json::parse(report_json(r.id, without))["shapes"]) {
    EXPECT_TRUE(s["reference"].is_null());
    EXPECT_TRUE(s["speedup_over_reference"].is_null());
  }
}
