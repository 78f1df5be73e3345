// Scenario writer: a ScenarioSpec back to scenario YAML, the inverse of the loader.
//
// The promise is a round trip: load_string(write_scenario(spec)) yields a spec equal to `spec` in
// every field a run reads (only `file` and the source locations differ), so a run of the written
// file is the run of the spec, digest included. To keep that promise every value is written in a
// unit the loader reads back exactly (units.h formatting: `1.5s`, `0.5m`, `0.05%`, `6m/s`; a
// `players.actions` or chaos interval as the shortest rate text that parses back to the same
// microsecond), and every key is written out, defaults included, except whole sections equal to
// their defaults (`bots` without NPCs, empty `faults`, `chaos`, `bugs` and `expect`).
//
// Used by `shardsim shrink` to write its reduced scenarios; faults go through sim::faults_to_yaml,
// the one writer of the `faults:` format.
#pragma once

#include <string>
#include <vector>

#include "sim/scenario/spec.h"

namespace shardsim::scenario {

struct WriteOptions {
  // Comment lines written first, each as "# " + line (empty lines as "#").
  std::vector<std::string> header;
  // A complete `faults:` block written in place of spec.faults, such as sim::faults_to_yaml() of a
  // realized schedule, which marks the chaos-made faults. Empty: spec.faults are written.
  std::string faults_yaml;
};

std::string write_scenario(const ScenarioSpec& spec, const WriteOptions& options = {});

// The shortest rate text (`1/s`, `30/min`, `6/s` for 166667us) whose mean interval, as the loader
// computes it, is exactly `every` (> 0). There is one for every interval the loader can produce and
// for every interval up to half an hour; beyond that some have none, and the nearest is written.
std::string rate_text(Duration every);

}  // namespace shardsim::scenario
