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

#include "net_model/network.h"
#include "sim/checkers/checkers.h"
#include "sim/scenario/spec.h"
#include "sim/trace/trace.h"

namespace shardsim::sim {

struct RunOptions {
  std::optional<std::uint64_t> seed;  // overrides the scenario's seed
  std::string trace_path;             // JSONL trace when non-empty
  bool hashing{true};                 // false: skip digest hashing (benchmark of its overhead)
  bool checkers{true};                // false: skip the per-tick checkers (benchmark)
  // Determinism reports (see determinism.h): trace checkpoints, and records captured verbatim.
  std::vector<std::pair<std::uint64_t, std::uint64_t>>* trace_checkpoints{nullptr};
  std::vector<TraceRecord>* trace_capture{nullptr};
  std::uint64_t capture_from{0};
  std::uint64_t capture_to{0};
  // Debug knob: every second run in this process nudges one link latency by 1 us a third of the
  // way in — a deliberate nondeterminism, to prove --check-determinism catches one.
  bool inject_nondeterminism{false};
  // Swarm testing (swarm.h): the seed also chooses which chaos fault kinds run and how hard.
  bool swarm{false};
};

// Applies the determinism-report options to a run's trace, and the knob to its network.
void prepare_trace(const RunOptions& options, Trace& trace, class Simulator& sim,
                   net::NetworkModel& network, const scenario::ScenarioSpec& spec);

// The continuity checker's re-entry window for this scenario (ContinuityChecker::reentry_window_for):
// from the hysteresis and the fastest thing that moves, players or NPCs.
Duration reentry_window(const scenario::ScenarioSpec& spec);

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
  // In kMetrics order, then net.msg.<type>.count and .bytes for each type that occurred (in
  // message_types.h's order), then in a cluster run node.<name>.* for every node (node_load.h).
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<Violation> violations;                    // the first few, in detail
  std::uint64_t violation_count{0};
  std::vector<ExpectationResult> expectations;
  bool passed{false};
  std::string swarm;  // the swarm's choices, when RunOptions::swarm
  // What the run did not do as the scenario says, one line each (`file:line:col: note: ...` where
  // there is a place): faults with nothing to act on in a one-node run, for one.
  std::vector<std::string> notes;

  // A metric's value (0 for a message type that did not occur, and for a node.<name>.* figure in a
  // Phase A run, which reports none); asserts on an unknown name.
  double metric(std::string_view name) const;
  std::string replay_command() const;
  bool swarm_run{false};
  std::string digest_hex() const;
};

RunResult run_scenario(const scenario::ScenarioSpec& spec, const RunOptions& options);

// "OP VALUE" evaluation shared by the runner and its tests.
bool compare(double actual, scenario::CompareOp op, double value);
const char* op_text(scenario::CompareOp op);

}  // namespace shardsim::sim
