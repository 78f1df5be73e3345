// `shardsim shrink SCENARIO --seed N --out minimal.yaml [--checker NAME] [--max-runs K] [--swarm]`
//
// Turns a failing run into the smallest scenario that still fails the same way, ready to commit as
// a regression test:
//  1. Runs SCENARIO at seed N (with --swarm: the scenario with the chaos the swarm picks for N,
//     sim/runner/swarm.h, as `run --swarm` does). It must fail; the target is the checker of its
//     first violation, or, with no violation, the metric of its first failed expectation (--checker
//     picks another).
//  2. Makes the fault schedule explicit: the faults realize_faults() gives for (scenario, N), chaos
//     included, become a plain `faults:` list and chaos is switched off. This version must still
//     fail the target (it applies the very same faults); if not, that is reported and nothing is
//     written.
//  3. Minimizes (shrinker.h): duration, faults (ddmin), players, nodes, cells, NPCs, keeping only
//     changes under which the target still fails at seed N. One line per accepted change.
//  4. Writes the result to --out through OUT.tmp: the full scenario (scenario writer), `seed: N`,
//     the explicit `faults:`, no chaos, and a comment header naming the source, seed, target and
//     replay commands. OUT.tmp is loaded back and run once more; only if it fails the target with
//     the digest the shrink saw is it renamed to OUT. Then a report of what was removed.
//
// Budget: --max-runs (default 200) counts every simulation run, the first two included; the final
// check of the written file is extra. Each run is a forked child (worker_pool.h), so a candidate
// that trips an engine assertion is reported and skipped.
//
// Exit codes: 0 written; 1 the run passes, does not fail --checker, or the explicit schedule or
// the written file does not reproduce the failure; 2 bad input (scenario errors, flags, an
// unwritable --out); 130 interrupted (the smallest reproducer found so far is still written).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace shardsim::tools {

struct ShrinkOptions {
  std::string scenario;
  std::uint64_t seed{0};
  std::string out;
  std::string checker;  // empty: the first failure's
  int max_runs{200};
  // The failing run was a swarm run (`run --swarm`): its chaos is what the swarm picked for the
  // seed.
  bool swarm{false};
};

void add_shrink_options(CLI::App& app, ShrinkOptions& options);
int run_shrink(const ShrinkOptions& options);

}  // namespace shardsim::tools
