// Runner: turns a validated ScenarioSpec into a simulation — network, hosts, world node, clients,
// checkers — runs it, and reports metrics, violations, expectations and the trace digest.
//
// A run is a pure function of (spec, seed, build): the runner reads the wall clock only to report speed,
// and nothing it reads from the wall clock reaches the simulation or the digest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/checkers/checkers.h"
#include "sim/scenario/spec.h"

namespace shardsim::sim {

struct RunOptions {
  std::optional<std::uint64_t> seed;  // overrides the scenario's seed
  std::string trace_path;             // JSONL trace when non-empty
  bool hashing{true};                 // false: skip digest hashing (benchmark of its overhead)
  bool checkers{true};                // false: skip the per-tick checkers (benchmark)
};

struct ExpectationResult {
  scenario::Expectation expectation;
  double actual{0};
  bool passed{false};
};

struct RunResult {
  std::string scenario;
  std::string file;
  std::uint64_t seed{0};
  std::uint64_t digest{0};
  double sim_seconds{0};
  double wall_seconds{0};
  std::uint64_t events{0};
  std::uint64_t trace_records{0};
  std::vector<std::pair<std::string, double>> metrics;  // in kMetrics order
  std::vector<Violation> violations;                    // the first few, in detail
  std::uint64_t violation_count{0};
  std::vector<ExpectationResult> expectations;
  bool passed{false};

  double metric(std::string_view name) const;
  std::string replay_command() const;
  std::string digest_hex() const;
};

RunResult run_scenario(const scenario::ScenarioSpec& spec, const RunOptions& options);

// "OP VALUE" evaluation shared by the runner and its tests.
bool compare(double actual, scenario::CompareOp op, double value);
const char* op_text(scenario::CompareOp op);

}  // namespace shardsim::sim
