// make_routing_measurer: one Measurer over several families, each call sent to the family that
// lists the candidate's op (see tuning_session.hpp).
#include <map>

#include "shapejit/error.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {
namespace {

class RoutingMeasurer final : public Measurer {
 public:
  RoutingMeasurer(std::vector<MeasurerFamily> families, std::function<std::string()> unavailable)
      : families_(std::move(families)), unavailable_(std::move(unavailable)) {
    for (std::size_t i = 0; i < families_.size(); ++i)
      for (const std::string& op : families_[i].ops) by_op_.emplace(op, i);
  }

  std::string unavailable() override {
    if (unavailable_)
      if (std::string why = unavailable_(); !why.empty()) return why;
    if (families_.empty()) return "this build has no measuring step for any op";
    std::string all;
    for (std::size_t i = 0; i < families_.size(); ++i) {
      const std::string why = family(i).unavailable();
      if (why.empty()) return {};
      all += (all.empty() ? "" : "; ") + families_[i].name + ": " + why;
    }
    return all;
  }

  std::string unsupported(const Candidate& c) override {
    const auto it = by_op_.find(c.op);
    if (it == by_op_.end()) {
      std::string measured;
      for (const auto& [op, i] : by_op_) measured += (measured.empty() ? "" : ", ") + op;
      return "no measuring step for " + c.op + " in this build (it measures " +
             (measured.empty() ? std::string("none") : measured) + ")";
    }
    Measurer& m = family(it->second);
    if (std::string why = m.unavailable(); !why.empty()) return why;
    return m.unsupported(c);
  }

  std::string check(const Candidate& c) override { return route(c).check(c); }
  Measurement measure(const Candidate& c, int runs) override { return route(c).measure(c, runs); }

  std::vector<Measurement> measure_interleaved(const std::vector<const Candidate*>& cs, int runs) override {
    if (cs.empty()) return {};
    Measurer& m = route(*cs.front());
    for (const Candidate* c : cs)
      if (&route(*c) != &m)
        fail(Errc::invalid_argument, "tune: an interleaved group mixes families (" + cs.front()->op + ", " + c->op + ")");
    return m.measure_interleaved(cs, runs);
  }
  std::optional<ReferenceMeasurement> measure_reference(const Candidate& c, int runs) override {
    return route(c).measure_reference(c, runs);
  }

 private:
  Measurer& family(std::size_t i) {
    auto& m = made_[i];
    if (!m) m = families_[i].make();
    if (!m) fail(Errc::invalid_argument, "tune: the " + families_[i].name + " measuring family made no measurer");
    return *m;
  }
  Measurer& route(const Candidate& c) {
    const auto it = by_op_.find(c.op);
    if (it == by_op_.end()) fail(Errc::unsupported, "tune: " + unsupported(c));
    return family(it->second);
  }

  std::vector<MeasurerFamily> families_;
  std::function<std::string()> unavailable_;
  std::map<std::string, std::size_t> by_op_;
  std::map<std::size_t, std::unique_ptr<Measurer>> made_;   // destroyed before families_
};

}  // namespace

std::unique_ptr<Measurer> make_routing_measurer(std::vector<MeasurerFamily> families,
                                                std::function<std::string()> unavailable) {
  return std::make_unique<RoutingMeasurer>(std::move(families), std::move(unavailable));
}

}  // namespace shapejit::runtime::tuning
