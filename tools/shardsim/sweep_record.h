// One line of a sweep's JSONL results: the record of one (scenario, seed) run.
//
//   {"scenario": "chaos", "file": "scenarios/chaos.yaml", "seed": 7, "verdict": "pass",
//    "digest": "d18d6fd4c7eae7a6", "failing": [], "metrics": {...}, "replay": "shardsim replay
//    ...", "wall_ms": 10234}
//
// Everything before wall_ms is a pure function of (scenario, seed, build), so two sweeps of the
// same pairs agree byte for byte once the last field is cut off; wall_ms is last for exactly that
// reason. A crashed run (the worker died on a signal, e.g. a SHARD_ASSERT abort) has verdict
// "crash", an empty digest, no metrics, and adds "signal" and "error" (the last line the worker
// printed) after "failing". A swarm run (sweep --swarm) adds "swarm", the chaos mix its seed
// picked, after "failing".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runner/runner.h"

namespace shardsim::tools {

enum class Verdict { pass, fail, crash };
const char* verdict_text(Verdict v);

struct SweepRecord {
  std::string scenario;
  std::string file;
  std::uint64_t seed{0};
  Verdict verdict{Verdict::pass};
  std::string digest;                // 16 hex digits; empty for a crash
  std::vector<std::string> failing;  // checkers with violations and metrics of failed expectations
  std::string signal;                // crash only: "SIGABRT"
  std::string error;                 // crash only
  std::string swarm;                 // swarm runs only: the chaos mix the seed picked
  std::string replay;
  std::uint64_t wall_ms{0};
  std::string line;  // the JSONL line this record was read from, without the newline

  // What two runs of the same (scenario, seed) must agree on: the digest, or how the run crashed.
  std::string fingerprint() const;
};

// The members of a completed run's line, everything but wall_ms ("\"scenario\": ..., \"replay\":
// ..."). Built inside the worker process from the RunResult. A swarm run's line also has
// "swarm": the chaos mix its seed picked (sim/runner/swarm.h).
std::string record_members(const sim::RunResult& r);
// The members of a crashed run's line, built by the parent, which saw the worker die; `swarm`:
// the run was a swarm run, so its replay command needs --swarm.
std::string crash_members(std::string_view scenario, std::string_view file, std::uint64_t seed,
                          std::string_view signal, std::string_view error, bool swarm);
// The complete line: "{" members ", \"wall_ms\": N}".
std::string finish_line(std::string_view members, std::uint64_t wall_ms);

// Parses and validates one line. On failure returns nullopt and sets `error`.
std::optional<SweepRecord> parse_record(std::string_view line, std::string& error);

// The failing names of a run: violation checkers first, then failed expectations, without repeats.
std::vector<std::string> failing_names(const sim::RunResult& r);

}  // namespace shardsim::tools
