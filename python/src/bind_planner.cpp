// The planner from Python: EPLB placement (arrays in, arrays out), migration-aware rebalancing,
// pipeline schedules with their simulation and SVG, the overlap chooser. Plain CPU code; the
// GIL is released while it plans.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "bindings.hpp"
#include "shapejit/error.hpp"
#include "shapejit/planner/cost_profile.hpp"
#include "shapejit/planner/eplb.hpp"
#include "shapejit/planner/overlap.hpp"
#include "shapejit/planner/pipeline.hpp"
#include "shapejit/planner/pipeline_simulator.hpp"
#include "shapejit/planner/timeline.hpp"

namespace shapejit::python {
namespace {

namespace pl = shapejit::planner;
using Loads = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using Slots = nb::ndarray<const std::int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using I64 = nb::ndarray<nb::numpy, std::int64_t>;

// A NumPy int64 array that owns its buffer.
I64 owned_i64(std::vector<std::int64_t>&& values, std::initializer_list<size_t> shape) {
  auto* heap = new std::vector<std::int64_t>(std::move(values));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<std::int64_t>*>(p); });
  return I64(heap->data(), shape.size(), shape.begin(), owner);
}

pl::ExpertLoads to_loads(const Loads& weight) {
  pl::ExpertLoads loads;
  loads.layers = int(weight.shape(0));
  loads.experts = int(weight.shape(1));
  loads.values.assign(weight.data(), weight.data() + weight.size());
  return loads;
}

// DeepSeek EPLB's outputs: phy2log [L, R], log2phy [L, E, R − E + 1] (−1 padded), logcnt [L, E].
std::tuple<I64, I64, I64> eplb_arrays(const pl::Placement& p) {
  const size_t L = p.layers.size(), R = size_t(p.topology.slots), E = size_t(p.experts);
  const size_t W = R - E + 1;   // the most replicas one expert can get
  std::vector<std::int64_t> phy2log(L * R), log2phy(L * E * W, -1), logcnt(L * E);
  for (size_t l = 0; l < L; ++l) {
    const pl::LayerPlacement& lp = p.layers[l];
    for (size_t s = 0; s < R; ++s) phy2log[l * R + s] = lp.phy2log[s];
    for (size_t e = 0; e < E; ++e) {
      logcnt[l * E + e] = lp.logcnt[e];
      for (size_t r = 0; r < lp.log2phy[e].size() && r < W; ++r) log2phy[(l * E + e) * W + r] = lp.log2phy[e][r];
    }
  }
  return {owned_i64(std::move(phy2log), {L, R}), owned_i64(std::move(log2phy), {L, E, W}),
          owned_i64(std::move(logcnt), {L, E})};
}

nb::dict stats_dict(const pl::LoadStats& s) {
  nb::dict d;
  d["max"] = s.max;
  d["mean"] = s.mean;
  d["balance"] = s.balance();
  return d;
}

pl::EplbTopology topology(int num_replicas, int num_groups, int num_nodes, int num_gpus) {
  return {num_replicas, num_groups, num_nodes, num_gpus};
}

nb::dict pass_dict(const pl::Pass& p) {
  nb::dict d;
  d["kind"] = std::string(1, static_cast<char>(p.kind));
  d["stage"] = p.stage;
  d["micro_batch"] = p.micro_batch;
  d["recv_from"] = p.recv_from;
  d["send_to"] = p.send_to;
  return d;
}

nb::list schedule_ops(const pl::Schedule& s) {
  nb::list ranks;
  for (const auto& rank_ops : s.ops) {
    nb::list ops;
    for (const auto& op : rank_ops) {
      nb::dict d;
      d["label"] = pl::op_label(op);
      nb::list passes;
      for (int i = 0; i < op.passes; ++i) passes.append(pass_dict(op.pass[size_t(i)]));
      d["passes"] = passes;
      ops.append(d);
    }
    ranks.append(ops);
  }
  return ranks;
}

nb::dict candidate_dict(const pl::OverlapCandidate& c) {
  nb::dict d;
  d["split"] = c.split;
  d["tokens"] = nb::make_tuple(c.tokens[0], c.tokens[1]);
  d["comm_sms"] = c.comm_sms;
  d["layer_us"] = c.layer_us;
  d["step_us"] = c.step_us;
  d["tokens_per_s"] = c.tokens_per_s;
  d["compute_us"] = c.compute_us;
  d["comm_us"] = c.comm_us;
  return d;
}

}  // namespace

void bind_planner(nb::module_& m) {
  m.def("eplb_plan",
        [](const Loads& weight, int num_replicas, int num_groups, int num_nodes, int num_gpus,
           const std::string& policy, bool refine, int refine_max_moves) {
          pl::EplbOptions o;
          o.policy = pl::parse_eplb_policy(policy);
          o.refine = refine;
          o.refine_max_moves = refine_max_moves;
          pl::EplbReport report;
          pl::Placement p;
          {
            nb::gil_scoped_release unlocked;
            p = pl::plan_eplb(to_loads(weight), topology(num_replicas, num_groups, num_nodes, num_gpus), o, &report);
          }
          nb::list layers;
          for (size_t l = 0; l < report.final.size(); ++l) {
            nb::dict d;
            d["greedy"] = stats_dict(report.greedy[l]);
            d["final"] = stats_dict(report.final[l]);
            d["refine_moves"] = report.refine_moves[l];
            layers.append(d);
          }
          nb::dict info;
          info["policy"] = pl::to_string(p.policy);
          info["layers"] = layers;
          auto [phy2log, log2phy, logcnt] = eplb_arrays(p);
          return nb::make_tuple(phy2log, log2phy, logcnt, info);
        },
        nb::arg("weight"), nb::arg("num_replicas"), nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"),
        nb::arg("policy") = "auto", nb::arg("refine") = false, nb::arg("refine_max_moves") = 100000,
        "EPLB placement of float64 loads [layers, experts] (C-contiguous NumPy): (phy2log, log2phy, logcnt, info). "
        "Use shapejit.eplb.rebalance_experts.");
  m.def("eplb_rebalance_with_migration",
        [](const Slots& current_phy2log, const Loads& weight, int num_groups, int num_nodes, int num_gpus,
           double move_cost, const std::string& policy, int max_moves) {
          pl::MigrationOptions o;
          o.move_cost = move_cost;
          o.policy = pl::parse_eplb_policy(policy);
          o.max_moves = max_moves;
          const pl::ExpertLoads loads = to_loads(weight);
          if (current_phy2log.shape(0) != weight.shape(0))
            fail(Errc::invalid_argument, "current_phy2log has " + std::to_string(current_phy2log.shape(0)) +
                                             " layers, weight " + std::to_string(weight.shape(0)));
          pl::Placement current;
          current.topology = topology(int(current_phy2log.shape(1)), num_groups, num_nodes, num_gpus);
          current.policy = pl::resolve_policy(loads, current.topology, o.policy);
          current.experts = loads.experts;
          current.layers.resize(size_t(loads.layers));
          for (int l = 0; l < loads.layers; ++l) {
            auto& lp = current.layers[size_t(l)];
            for (int s = 0; s < current.topology.slots; ++s) {
              const std::int64_t e = current_phy2log.data()[size_t(l) * current_phy2log.shape(1) + size_t(s)];
              if (e < 0 || e >= loads.experts)
                fail(Errc::invalid_argument, "current_phy2log[" + std::to_string(l) + ", " + std::to_string(s) +
                                                 "] = " + std::to_string(e) + " is not an expert of 0.." +
                                                 std::to_string(loads.experts - 1));
              lp.phy2log.push_back(int(e));
            }
            pl::rebuild_layer_maps(lp, loads.experts);
          }
          pl::set_max_replicas(current);
          pl::check_placement(current);
          pl::MigrationReport report;
          pl::Placement next;
          {
            nb::gil_scoped_release unlocked;
            next = pl::rebalance_with_migration(current, loads, o, &report);
          }
          nb::list layers;
          for (const auto& r : report.layers) {
            nb::dict d;
            d["current"] = stats_dict(r.current);
            d["fresh"] = stats_dict(r.fresh);
            d["chosen"] = stats_dict(r.chosen);
            d["fresh_moved"] = r.fresh_moved;
            d["moved"] = r.moved;
            d["cost"] = r.cost;
            d["choice"] = r.choice;
            layers.append(d);
          }
          nb::dict info;
          info["policy"] = pl::to_string(next.policy);
          info["layers"] = layers;
          info["total_moved"] = report.total_moved;
          auto [phy2log, log2phy, logcnt] = eplb_arrays(next);
          return nb::make_tuple(phy2log, log2phy, logcnt, info);
        },
        nb::arg("current_phy2log"), nb::arg("weight"), nb::arg("num_groups"), nb::arg("num_nodes"),
        nb::arg("num_gpus"), nb::arg("move_cost") = 1.0, nb::arg("policy") = "auto", nb::arg("max_moves") = 100000,
        "Migration-aware rebalance from a current phy2log (int64 [layers, slots]); use "
        "shapejit.eplb.rebalance_with_migration.");

  m.def("pipeline_schedule",
        [](const std::string& kind, int ranks, int micro_batches) {
          pl::Schedule s;
          {
            nb::gil_scoped_release unlocked;
            s = pl::make_schedule(pl::parse_schedule_kind(kind), ranks, micro_batches);
            pl::check_schedule(s);
          }
          nb::dict d;
          d["kind"] = pl::to_string(s.kind);
          d["ranks"] = s.ranks;
          d["stages"] = s.stages;
          d["micro_batches"] = s.micro_batches;
          d["ops"] = schedule_ops(s);
          return d;
        },
        nb::arg("kind"), nb::arg("ranks"), nb::arg("micro_batches"),
        "A pipeline schedule ('1f1b' | 'zb1p' | 'dualpipe' | 'dualpipev') as plain data.");
  m.def("pipeline_simulate",
        [](const std::string& kind, int ranks, int micro_batches, double f, double b, double w, double fb,
           double p2p) {
          pl::PassCosts costs{f, b, w, fb, p2p};
          pl::Schedule s;
          pl::SimulationResult r;
          pl::PublishedFigures pub;
          std::string svg, text;
          {
            nb::gil_scoped_release unlocked;
            pl::check_pass_costs(costs);
            s = pl::make_schedule(pl::parse_schedule_kind(kind), ranks, micro_batches);
            r = pl::simulate(s, costs);
            pub = pl::published_figures(s.kind, s.stages, costs);
            svg = pl::timeline_svg(s, r);
            text = pl::timeline_text(s, r);
          }
          nb::dict d;
          d["kind"] = pl::to_string(s.kind);
          d["ranks"] = s.ranks;
          d["stages"] = s.stages;
          d["micro_batches"] = s.micro_batches;
          d["makespan"] = r.makespan;
          d["max_bubble"] = r.max_bubble();
          d["max_peak_activations"] = r.max_peak_activations();
          d["max_parameter_copies"] = r.max_parameter_copies();
          nb::list per_rank;
          for (const auto& rr : r.ranks) {
            nb::dict x;
            x["busy"] = rr.busy;
            x["bubble"] = rr.bubble;
            x["peak_activations"] = rr.peak_activations;
            x["parameter_copies"] = rr.parameter_copies;
            per_rank.append(x);
          }
          d["per_rank"] = per_rank;
          nb::list timing;
          for (size_t k = 0; k < r.timing.size(); ++k) {
            nb::list ops;
            for (size_t i = 0; i < r.timing[k].size(); ++i)
              ops.append(nb::make_tuple(pl::op_label(s.ops[k][i]), r.timing[k][i].start, r.timing[k][i].end));
            timing.append(ops);
          }
          d["timing"] = timing;
          nb::dict published;
          published["bubble"] = pub.bubble;
          published["parameters"] = pub.parameters;
          published["activations"] = pub.activations;
          published["devices"] = pub.devices;
          published["bubble_formula"] = pub.bubble_formula;
          d["published"] = published;
          d["svg"] = svg;
          d["text"] = text;
          return d;
        },
        nb::arg("kind"), nb::arg("ranks"), nb::arg("micro_batches"), nb::arg("F") = 1.0, nb::arg("B") = 2.0,
        nb::arg("W") = 1.0, nb::arg("FB") = 0.0, nb::arg("p2p") = 0.0,
        "Simulates a schedule with per-chunk costs; see shapejit.pipeline.simulate.");
  m.def("choose_overlap",
        [](const std::string& profile_json) {
          std::vector<pl::OverlapChoice> choices;
          {
            nb::gil_scoped_release unlocked;
            choices = pl::choose_overlap(pl::parse_cost_profile(profile_json, "profile"));
          }
          nb::list out;
          for (const auto& c : choices) {
            nb::dict d;
            d["phase"] = c.phase;
            d["best"] = candidate_dict(c.best);
            d["best_unsplit"] = candidate_dict(c.best_unsplit);
            d["best_even_split"] = candidate_dict(c.best_even_split);
            nb::list evaluated;
            for (const auto& e : c.evaluated) evaluated.append(candidate_dict(e));
            d["evaluated"] = evaluated;
            d["reasoning"] = c.reasoning;
            out.append(d);
          }
          return out;
        },
        nb::arg("profile_json"), "The overlap choice per phase of a cost profile (JSON text); see shapejit.overlap.");
}

}  // namespace shapejit::python
