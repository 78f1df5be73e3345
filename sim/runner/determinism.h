// Determinism check: run a scenario twice in one process and compare; on a mismatch, find the first
// trace record where the runs part (virtual time, host, event) and report it for both runs.
//
// Cost: two runs when they agree. When they do not: each run also kept a checkpoint digest at every
// bulk hash (about every 400 records), which locates the first differing block; two more runs
// capture that block verbatim, and the first differing record in it is the answer. Payload bytes are
// hashed too: if the records of the block agree, the divergence is in a delivered payload, and the
// report says so and names the block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sim/runner/runner.h"

namespace shardsim::sim {

struct DeterminismReport {
  bool same{false};
  std::uint64_t digest_a{0};
  std::uint64_t digest_b{0};
  std::optional<TraceRecord> first_a;  // the first record that differs, in each run
  std::optional<TraceRecord> first_b;
  std::string note;
  RunResult run;  // the first run, for its summary
};

DeterminismReport check_determinism(const scenario::ScenarioSpec& spec, RunOptions options);

}  // namespace shardsim::sim
