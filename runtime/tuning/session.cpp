// run_session: the CPU phase (compile and prune every candidate) and the GPU phase (check, time,
// re-measure finalists against the baseline, choose), each outcome written as soon as known.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "session_shapes.hpp"
#include "shapejit/error.hpp"
#include "shapejit/jit/kernel_catalog.hpp"
#include "shapejit/runtime/runtime.hpp"
#include "shapejit/runtime/tuning_records.hpp"
#include "shapejit/runtime/tuning_session.hpp"

namespace shapejit::runtime::tuning {

std::vector<Measurement> Measurer::measure_interleaved(const std::vector<const Candidate*>& cs, int runs) {
  std::vector<Measurement> out;
  for (const Candidate* c : cs) out.push_back(measure(*c, runs));
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kQuickRuns = 5;   // runs before a clearly losing candidate is stopped

// TFLOPS for ops that count their FLOPs (GEMM), else GB/s of the bytes they move (MLA decode:
// the KV cache of its timed workload; the MoE steps: the minimum bytes one call moves).
void set_throughput(cache::TuningRecord& r, const Candidate& c, double median_us) {
  if (median_us <= 0) return;
  if (c.flops > 0) {
    r.throughput = c.flops / (median_us * 1e6);
    r.throughput_unit = "TFLOPS";
  } else if (c.bytes > 0) {
    r.throughput = c.bytes / (median_us * 1e3);
    r.throughput_unit = "GB/s";
  }
}
constexpr const char* kCheckDidNotFinish =
    "did not finish its reference check: the process died or the GPU context was lost during it";

std::string new_session_id() {
  std::random_device rd;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  char buf[32];
  std::snprintf(buf, sizeof buf, "t%llx-%04x",
                static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::seconds>(now).count()),
                rd() & 0xffff);
  return buf;
}

bool final_status(const std::string& s) {
  return s == cache::kTuningPruned || s == cache::kTuningRejected || s == cache::kTuningMeasured;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

struct Shape {
  std::string op, shape_json;
  SearchSpace space;
};

// Everything one run of a session shares.
class Session {
 public:
  Session(cache::KernelStore& store, const SessionRequest& request, const DeviceInfo& target,
          const SessionOptions& options, std::string id)
      : store_(store), request_(request), target_(target), options_(options), id_(std::move(id)),
        context_(context_of(target)), identity_(context_identity(context_)) {}

  SessionResult run();

 private:
  std::string candidate_key(const Candidate& c) const {
    return cache::tuning_key(c.op, c.shape_json, c.config_json, identity_ + "|def " + c.definition_version);
  }
  cache::TuningRecord record_of(const Candidate& c, const std::string& status, const std::string& reason) const {
    cache::TuningRecord r;
    r.candidate_key = candidate_key(c);
    r.key = cache::tuning_key("session", id_, r.candidate_key, "");
    r.spec_family = c.op;
    r.shape_json = c.shape_json;
    r.config_json = c.config_json;
    r.session = id_;
    r.status = status;
    r.reason = reason;
    r.spec = c.spec.canonical();
    r.baseline = c.baseline;
    stamp_context(r, context_);
    r.definition_version = c.definition_version;
    return r;
  }
  void write(cache::TuningRecord r) {
    std::lock_guard lock(mutex_);
    done_[r.candidate_key] = r;
    store_.put_tuning(std::move(r));
  }
  void write_measured(const Candidate& c, const Measurement& m, const std::string& reason) {
    cache::TuningRecord r = record_of(c, cache::kTuningMeasured, reason);
    r.time_us = m.median_us;
    r.spread_us = m.spread_us;
    set_throughput(r, c, m.median_us);
    write(std::move(r));
  }
  // A library timed on the shape (status "reference": never a candidate, never selected).
  void write_reference(const Shape& shape, const ReferenceMeasurement& ref) {
    const Candidate& base = shape.space.candidates.front();
    cache::TuningRecord r = record_of(base, cache::kTuningReference, ref.error);
    r.config_json = nlohmann::json{{"reference", ref.name}}.dump();
    r.candidate_key = cache::tuning_key(shape.op, shape.space.shape_json, r.config_json, identity_);
    r.key = cache::tuning_key("session", id_, r.candidate_key, "reference");
    r.spec.clear();
    r.baseline = false;
    r.definition_version.clear();
    if (ref.error.empty()) {
      r.time_us = ref.time.median_us;
      r.spread_us = ref.time.spread_us;
      set_throughput(r, base, ref.time.median_us);
    }
    store_.put_tuning(std::move(r));
    ++result_.references;
  }
  const cache::TuningRecord* recorded(const Candidate& c) {
    std::lock_guard lock(mutex_);
    auto it = done_.find(candidate_key(c));
    return it == done_.end() ? nullptr : &it->second;
  }
  void progress(const char* phase, long long done, long long total, const std::string& what) {
    if (options_.on_progress) options_.on_progress({phase, done, total, what});
  }
  void load_existing();
  void compile_phase(const std::vector<const Candidate*>& todo, const std::string& no_measure_reason);
  void measure_shape(const Shape& shape, Clock::time_point deadline);
  void write_session(const std::string& state);

  cache::KernelStore& store_;
  SessionRequest request_;
  DeviceInfo target_;
  SessionOptions options_;
  std::string id_;
  TuningContext context_;
  std::string identity_;
  std::vector<Shape> shapes_;
  std::mutex mutex_;
  std::map<std::string, cache::TuningRecord> done_;    // this session's records by candidate key
  std::map<std::string, cache::TuningRecord> prior_;   // other sessions' decided records
  std::set<std::string> winners_;                      // shapes this session has decided
  std::set<std::string> compiled_ok_;                  // candidate keys that compiled cleanly
  SessionResult result_;
  bool budget_hit_ = false;
  std::exception_ptr infrastructure_error_;
  long long measure_done_ = 0, measure_total_ = 0;
};

void Session::load_existing() {
  for (cache::TuningRecord& r : store_.tuning_records(cache::TuningQuery{.session = id_})) {
    if (r.status == cache::kTuningWinner)
      winners_.insert(r.spec_family + "\n" + r.shape_json);
    else
      done_[r.candidate_key] = std::move(r);
  }
  std::set<std::string> ops;
  for (const Shape& s : shapes_) ops.insert(s.op);
  for (const std::string& op : ops)
    for (cache::TuningRecord& r : store_.tuning_records(cache::TuningQuery{.spec_family = op}))
      if (r.session != id_ && final_status(r.status) && !r.candidate_key.empty()) prior_[r.candidate_key] = std::move(r);
}

void Session::compile_phase(const std::vector<const Candidate*>& todo, const std::string& no_measure_reason) {
  // Candidates of several shapes share a kernel (GEMM: M is a run-time argument): compile once.
  std::map<std::string, std::vector<const Candidate*>> by_spec;
  std::vector<std::string> order;
  for (const Candidate* c : todo) {
    const std::string text = c->spec.canonical();
    if (!by_spec.count(text)) order.push_back(text);
    by_spec[text].push_back(c);
  }
  auto compile = options_.compile;
  if (!compile) {
    if (!options_.runtime) fail(Errc::invalid_argument, "tune: a session needs a runtime or a compile step");
    Runtime* rt = options_.runtime;
    compile = [rt](const jit::KernelSpec& spec) { return *rt->cubin(spec); };
  }
  std::atomic<std::size_t> next{0};
  std::atomic<long long> finished{0};
  const long long total = static_cast<long long>(order.size());
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < order.size();) {
      const std::vector<const Candidate*>& cands = by_spec[order[i]];
      std::string pruned;
      try {
        const jit::CompileResult r = compile(cands.front()->spec);
        pruned = prune_reason(r, *cands.front(), target_);
      } catch (const Error& e) {
        // NOTES: only the compiler's verdict on the candidate is recorded; a missing worker or an
        // unreadable file says nothing about the candidate and must not be kept as its outcome.
        if (e.code() == Errc::compile_failed) {
          pruned = "compile failure: " + first_line(e.what());
        } else if (e.code() == Errc::compiler_crashed) {
          pruned = "compiler crashed: " + first_line(e.what());
        } else if (e.code() == Errc::compile_timeout) {
          pruned = "compile timed out: " + first_line(e.what());
        } else {
          std::lock_guard lock(mutex_);
          if (!infrastructure_error_) infrastructure_error_ = std::current_exception();
          next = order.size();   // stop: nothing more can be compiled
          continue;
        }
      }
      for (const Candidate* c : cands) {
        if (!pruned.empty()) {
          write(record_of(*c, cache::kTuningPruned, pruned));
          std::lock_guard lock(mutex_);
          ++result_.pruned;
        } else {
          {
            std::lock_guard lock(mutex_);
            ++result_.compiled;
            compiled_ok_.insert(candidate_key(*c));
          }
          if (!no_measure_reason.empty()) {
            write(record_of(*c, cache::kTuningUnmeasured, no_measure_reason));
            std::lock_guard lock(mutex_);
            ++result_.unmeasured;
          }
        }
      }
      progress("compile", ++finished, total, jit::describe_spec(cands.front()->spec));
    }
  };
  const int jobs = std::max(1, std::min<int>(options_.jobs, static_cast<int>(order.size())));
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs; ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error&) {
      break;   // the threads that started (and this one) finish the work
    }
  }
  work();
  for (std::thread& t : threads) t.join();
  if (infrastructure_error_) std::rethrow_exception(infrastructure_error_);
}

void Session::measure_shape(const Shape& shape, Clock::time_point deadline) {
  Measurer& m = *options_.measurer;
  const std::vector<Candidate>& cands = shape.space.candidates;
  if (cands.empty() || winners_.count(shape.op + "\n" + shape.space.shape_json)) return;
  auto over_budget = [&] {
    if (request_.budget_s > 0 && Clock::now() >= deadline) budget_hit_ = true;
    return budget_hit_;
  };
  auto runnable = [&](const Candidate& c) {
    std::lock_guard lock(mutex_);
    return compiled_ok_.count(candidate_key(c)) > 0;
  };
  // Outcomes so far: measured medians by candidate index.
  std::map<std::size_t, Measurement> measured;
  std::set<std::size_t> early;
  auto take_recorded = [&](std::size_t i) {
    const cache::TuningRecord* r = recorded(cands[i]);
    if (!r) return false;
    if (r->status == cache::kTuningMeasured) {
      measured[i] = Measurement{r->time_us, r->spread_us, 1};
      if (r->reason.rfind("stopped early", 0) == 0) early.insert(i);
    }
    return r->status != cache::kTuningUnmeasured;
  };
  auto measure_one = [&](std::size_t i) {
    const Candidate& c = cands[i];
    if (take_recorded(i) || !runnable(c)) return;
    if (const std::string why = m.unsupported(c); !why.empty()) {
      write(record_of(c, cache::kTuningUnmeasured, why));
      ++result_.unmeasured;
      return;
    }
    // NOTES: written first, so a candidate that kills the process or the GPU context during
    // its check is never run again by a resume; its real outcome replaces this record.
    write(record_of(c, cache::kTuningRejected, kCheckDidNotFinish));
    if (const std::string error = m.check(c); !error.empty()) {
      write(record_of(c, cache::kTuningRejected, "wrong result: " + error));
      ++result_.rejected;
      return;
    }
    // Correct: a resume after a kill during the timing times it again.
    write(record_of(c, cache::kTuningUnmeasured, "passed its reference check; timing did not finish"));
    double best = 0;
    for (const auto& [j, x] : measured) best = best == 0 ? x.median_us : std::min(best, x.median_us);
    if (!c.baseline && best > 0 && request_.runs > kQuickRuns) {
      const Measurement quick = m.measure(c, kQuickRuns);
      if (quick.median_us > request_.early_stop_ratio * best) {
        char why[160];
        std::snprintf(why, sizeof why, "stopped early: %.2fx the best so far after %d runs", quick.median_us / best,
                      kQuickRuns);
        write_measured(c, quick, why);
        measured[i] = quick;
        early.insert(i);
        ++result_.measured;
        return;
      }
    }
    const Measurement full = m.measure(c, request_.runs);
    write_measured(c, full, "");
    measured[i] = full;
    ++result_.measured;
  };

  // An op this measurer cannot time: every compiled candidate says so (resume retries them).
  if (const std::string why = m.unsupported(cands[0]); !why.empty()) {
    for (const Candidate& c : cands) {
      const cache::TuningRecord* r = recorded(c);
      if (runnable(c) && (!r || r->status == cache::kTuningUnmeasured)) {
        write(record_of(c, cache::kTuningUnmeasured, "not measured: " + why));
        ++result_.unmeasured;
      }
    }
    return;
  }
  // The baseline first: every candidate is judged against it.
  if (over_budget()) return;
  measure_one(0);
  if (!measured.count(0)) return;   // the heuristic's pick failed or cannot be timed: no decision
  for (std::size_t i = 1; i < cands.size(); ++i) {
    if (over_budget()) return;
    measure_one(i);
    progress("measure", ++measure_done_, measure_total_, shape.space.shape_json);
  }
  if (over_budget()) return;

  // Finalists: the fastest few, re-measured interleaved with the baseline.
  std::vector<std::size_t> ranked;
  for (const auto& [i, x] : measured)
    if (i != 0 && !early.count(i)) ranked.push_back(i);
  std::sort(ranked.begin(), ranked.end(),
            [&](std::size_t a, std::size_t b) { return measured[a].median_us < measured[b].median_us; });
  if (static_cast<int>(ranked.size()) > request_.finalists) ranked.resize(static_cast<std::size_t>(request_.finalists));
  std::vector<const Candidate*> group{&cands[0]};
  for (std::size_t i : ranked) group.push_back(&cands[i]);
  const std::vector<Measurement> again = m.measure_interleaved(group, request_.runs);
  std::vector<Measurement> finals(again.begin() + 1, again.end());
  if (std::optional<ReferenceMeasurement> ref = m.measure_reference(cands[0], request_.runs)) write_reference(shape, *ref);
  std::string why;
  const int w = select_winner(again[0], finals, &why);
  const Candidate& chosen = w < 0 ? cands[0] : cands[ranked[static_cast<std::size_t>(w)]];
  const Measurement& chosen_m = w < 0 ? again[0] : finals[static_cast<std::size_t>(w)];
  cache::TuningRecord r = record_of(chosen, cache::kTuningWinner, why);
  r.candidate_key = cache::tuning_key(shape.op, shape.space.shape_json, "winner",
                                      identity_ + "|def " + chosen.definition_version);
  r.key = cache::tuning_key("session", id_, r.candidate_key, "winner");
  r.time_us = chosen_m.median_us;
  r.spread_us = chosen_m.spread_us;
  r.baseline_us = again[0].median_us;
  set_throughput(r, chosen, chosen_m.median_us);
  store_.put_tuning(std::move(r));
  winners_.insert(shape.op + "\n" + shape.space.shape_json);
  ++result_.winners;
}

void Session::write_session(const std::string& state) {
  cache::TuningSession s;
  if (auto old = store_.tuning_session(id_)) s.created = old->created;
  s.id = id_;
  s.state = state;
  s.request_json = request_to_json(request_);
  s.device = identity_;
  nlohmann::json summary = {{"shapes", result_.shapes},       {"candidates", result_.candidates},
                            {"rejected_by_rules", result_.rejected_by_rules}, {"narrowed", result_.narrowed},
                            {"compiled", result_.compiled},   {"pruned", result_.pruned},
                            {"rejected", result_.rejected},   {"measured", result_.measured},
                            {"unmeasured", result_.unmeasured}, {"winners", result_.winners},
                            {"reused", result_.reused},       {"already_recorded", result_.already_recorded},
                            {"references", result_.references},
                            {"compile_seconds", result_.compile_seconds},
                            {"measure_seconds", result_.measure_seconds}};
  if (!result_.unmeasured_reason.empty()) summary["unmeasured_reason"] = result_.unmeasured_reason;
  s.summary_json = summary.dump();
  store_.put_tuning_session(std::move(s));
}

SessionResult Session::run() {
  result_.id = id_;
  for (auto& [op, shape] : detail::requested_shapes(request_, &target_)) {
    Shape s{op, shape, search_space(op, shape, target_, request_.space)};
    if (options_.edit_space) {
      const bool had_baseline = !s.space.candidates.empty();
      options_.edit_space(s.space);
      const auto& cs = s.space.candidates;
      if (had_baseline && (cs.empty() || !cs.front().baseline ||
                           std::any_of(cs.begin() + 1, cs.end(), [](const Candidate& c) { return c.baseline; })))
        fail(Errc::invalid_argument, "tune: edit_space must keep the baseline first and only there (" + op + " " +
                                         s.space.shape_json + ")");
    }
    result_.candidates += static_cast<long long>(s.space.candidates.size());
    result_.rejected_by_rules += s.space.rejected;
    result_.narrowed += s.space.narrowed + s.space.capped;
    shapes_.push_back(std::move(s));
  }
  context_ = context_of(target_);   // a manifest's target may have changed it
  identity_ = context_identity(context_);
  result_.shapes = static_cast<long long>(shapes_.size());
  load_existing();
  write_session("running");

  std::string no_measure;
  if (!options_.measurer)
    no_measure = "no measuring step was given (CPU phase only)";
  else
    no_measure = options_.measurer->unavailable();
  if (!no_measure.empty()) no_measure = "not measured: " + no_measure;
  result_.unmeasured_reason = no_measure;

  // What this session recorded before, and what other sessions decided on the same context.
  std::vector<const Candidate*> todo;
  for (const Shape& s : shapes_) {
    for (const Candidate& c : s.space.candidates) {
      const std::string key = candidate_key(c);
      if (const cache::TuningRecord* r = recorded(c)) {
        if (final_status(r->status) || !no_measure.empty()) {
          ++result_.already_recorded;
          if (r->status == cache::kTuningMeasured) compiled_ok_.insert(key);
          continue;
        }
      }
      if (auto it = prior_.find(key); it != prior_.end()) {
        cache::TuningRecord r = it->second;
        r.reason = "reused from session " + r.session + (r.reason.empty() ? "" : ": " + r.reason);
        r.session = id_;
        r.key = cache::tuning_key("session", id_, key, "");
        r.measured_at = 0;
        if (r.status == cache::kTuningMeasured) compiled_ok_.insert(key);
        write(std::move(r));
        ++result_.reused;
        continue;
      }
      todo.push_back(&c);
    }
  }

  const auto compile_start = Clock::now();
  compile_phase(todo, no_measure);
  result_.compile_seconds = std::chrono::duration<double>(Clock::now() - compile_start).count();

  if (!no_measure.empty()) {
    result_.state = "cpu_only";
    result_.unmeasured_reason = no_measure;
    write_session(result_.state);
    return result_;
  }
  const auto measure_start = Clock::now();
  const auto deadline = measure_start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(request_.budget_s));
  for (const Shape& s : shapes_) measure_total_ += static_cast<long long>(s.space.candidates.size()) - 1;
  for (const Shape& s : shapes_) {
    measure_shape(s, deadline);
    if (budget_hit_) break;
  }
  result_.measure_seconds = std::chrono::duration<double>(Clock::now() - measure_start).count();
  result_.state = budget_hit_ ? "budget" : "complete";
  write_session(result_.state);
  return result_;
}

}  // namespace

SessionResult run_session(cache::KernelStore& store, const SessionRequest& request, const DeviceInfo& target,
                          const SessionOptions& options) {
  if (!options.resume.empty()) {
    const std::optional<cache::TuningSession> old = store.tuning_session(options.resume);
    if (!old) fail(Errc::invalid_argument, "tune: no session '" + options.resume + "' in " + store.path().string());
    Session s(store, request_from_json(old->request_json), target, options, options.resume);
    return s.run();
  }
  Session s(store, request, target, options, options.id.empty() ? new_session_id() : options.id);
  return s.run();
}

}  // namespace shapejit::runtime::tuning
