// Shrinker: the minimization behind `shardsim shrink` (shrink_command.h).
//
// A Candidate is a scenario whose faults are an explicit list (chaos already realized, chaos off).
// Every candidate is judged the same way: written to YAML with the scenario writer, loaded back
// with the loader (a candidate the loader refuses, e.g. cells that no longer divide the world, is
// skipped, not run), and run at the shrink seed in a forked child, so an engine assertion in a
// candidate ends that child, not the shrink. A candidate "still fails" iff its run has a violation
// of the target checker (or, for an expectation target, that expectation fails). What is run is
// therefore exactly what would be written, and the current candidate always still fails.
//
// Steps, each keeping only changes under which the target still fails (see shrinker.cpp): the
// duration cut to 2s after the first violation (every later run is shorter); then, in rounds until
// one changes nothing (at most kRoundsMax), delta debugging (ddmin) over the faults, players halved
// and then binary-searched, hosts left out of partition groups, nodes that no fault names removed
// (the last first), cells halved per axis, NPCs removed; last, the duration cut to the tick after
// the first violation. Every accepted change prints one line.
//
// Budget: at most max_runs simulation runs (candidates the loader refuses, and repeats of a
// candidate already run, cost none). Runs are sequential: a shrink is a chain of decisions, each
// depending on the last.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/runner/faults.h"
#include "sim/scenario/spec.h"

namespace shardsim::tools {

struct ShrinkTarget {
  enum class Kind : std::uint8_t { checker, expectation };
  Kind kind{Kind::checker};
  // A checker (= its metric, e.g. players.duplicated), or an expectation's metric.
  std::string name;
  std::string describe() const;  // "checker players.duplicated" / "expectation on players.lost"
};

// What one run showed, as far as shrinking cares.
struct RunDigest {
  bool ran{false};       // false: the child died (see ended_by) before reporting
  std::string ended_by;  // "SIGABRT", "exit 3": how a child that did not report ended
  std::uint64_t digest{0};
  bool passed{false};
  std::uint64_t violation_count{0};
  // The run's first violations (as RunResult keeps them): checker and virtual time.
  std::vector<std::pair<std::string, Time>> violations;
  std::vector<std::pair<std::string, bool>> expectations;  // metric, held
  std::map<std::string, double> metrics;

  // Distinct checkers in order of their first violation, then failed expectations' metrics.
  std::vector<std::string> failing() const;
  bool fails(const ShrinkTarget& target) const;
  std::optional<Time> first_violation(const std::string& checker) const;
};

struct Candidate {
  scenario::ScenarioSpec spec;             // spec.faults is ignored: `faults` is the schedule
  std::vector<sim::RealizedFault> faults;  // in schedule order
};

// The candidate's YAML: the scenario writer, with `faults:` as sim::faults_to_yaml writes them.
std::string candidate_yaml(const Candidate& c, const std::vector<std::string>& header = {});

// Runs a loaded scenario at `seed` in a forked child and digests the result. Interrupted (SIGINT or
// SIGTERM, see worker_pool.h): nullopt.
std::optional<RunDigest> run_isolated(const scenario::ScenarioSpec& spec, std::uint64_t seed);

class Shrinker {
 public:
  Shrinker(ShrinkTarget target, std::uint64_t seed, int max_runs, std::FILE* log);

  // Adopts `start` (which must fail the target: its run is `result`) and runs every step.
  void shrink(Candidate start, RunDigest result);

  // Loads and runs a candidate (cached by its YAML). nullopt: refused by the loader, out of runs,
  // or interrupted.
  std::optional<RunDigest> probe(const Candidate& c);

  // A run made outside probe() (the original scenario's), counted against max_runs.
  void count_run() { ++runs_; }

  const Candidate& best() const { return current_; }
  const RunDigest& best_result() const { return result_; }
  int runs() const { return runs_; }
  int refused() const { return refused_; }
  int crashed() const { return crashed_; }
  bool interrupted() const { return interrupted_; }
  bool out_of_runs() const { return runs_ >= max_runs_; }

 private:
  bool can_run() const { return !interrupted_ && !out_of_runs(); }
  // Runs `c`; when it still fails, makes it the current candidate and prints `what`.
  bool accept_if_fails(Candidate c, const std::string& what);

  std::optional<Time> first_violation() const;  // of the target checker, in the current run
  bool try_duration(Duration to, const char* why);
  void cut_duration();
  void shortest_duration();
  void ddmin_faults();
  void fewer_players();
  void simpler_partitions();
  void fewer_nodes();
  void fewer_cells();
  void no_bots();

  static constexpr Duration kMargin = Duration::seconds(2);
  static constexpr Duration kDurationStep = Duration::millis(100);
  static constexpr int kRoundsMax = 3;

  ShrinkTarget target_;
  std::uint64_t seed_;
  int max_runs_;
  std::FILE* log_;
  Candidate current_;
  RunDigest result_;
  std::map<std::string, std::optional<RunDigest>> cache_;  // by candidate YAML
  int runs_{0};
  int refused_{0};
  int crashed_{0};
  int accepted_{0};
  bool interrupted_{false};
};

}  // namespace shardsim::tools
