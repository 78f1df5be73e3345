// `shardsim sweep SCENARIO... --seeds A..B [--jobs N] [--shard i/n] [--out FILE] [--recheck P%]`
//
// Runs every (scenario, seed) pair of the plan (sweep_plan.h), each in a forked worker process of
// its own (worker_pool.h), and writes one JSON line per run (sweep_record.h) to --out in plan order
// — whatever order the workers finish in and however many there are, so `--jobs 1` and `--jobs 8`
// write the same bytes apart from the wall_ms field that ends each line. Then the summary
// (sweep_summary.h).
//
// --out is written through PATH.tmp and renamed at the end. On Ctrl-C (SIGINT) or SIGTERM the sweep
// stops launching, kills the runs in flight, and still renames: the file then holds every run that
// completed, in plan order (a few gaps where runs were in flight), and the command exits 128 +
// signal.
//
// --recheck P% reruns, after the sweep, the seeds recheck_selected() picks and fails if a digest
// differs from the first run's ("nondet" in the summary; the results file keeps the first run).
//
// Exit codes: 0 every run passed; 1 a run failed, crashed or was nondeterministic; 2 bad input
// (flags, unreadable or invalid scenarios, unwritable --out); 130 interrupted (143 on SIGTERM).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shardsim::tools {

struct SweepOptions {
  std::vector<std::string> scenarios;
  std::string seeds;
  int jobs{0};  // 0: one per CPU
  std::string shard{"0/1"};
  std::string out;
  std::string recheck{"0%"};
  bool swarm{false};  // swarm testing: each seed also picks its chaos mix (run --swarm)
  std::optional<std::uint64_t> crash_seed;  // test knob: the worker for this seed aborts on purpose
  bool skew_recheck{false};  // test knob: --recheck reruns seed + 1 (a mismatch each)
};

void add_sweep_options(CLI::App& app, SweepOptions& options);
int run_sweep(const SweepOptions& options);

}  // namespace shardsim::tools
