// The scenario loader: YAML text -> a validated ScenarioSpec, or every problem found in it.
//
// This is the only place that reads scenario YAML. It validates once, completely: a file either
// yields a ScenarioSpec whose values all lie within the documented limits (spec.h) and agree with
// each other, or a list of diagnostics, one per problem, each pointing at the offending node as
// `file:line:col: error: message` (1-based, as editors show them). It never stops at the first
// problem, never silently ignores a key (unknown keys, duplicate keys and keys reserved for later
// issues are all errors), and never throws for bad input.
//
// Where a key is missing there is no node to point at, so the diagnostic points at the key of the
// map that lacks it (`world:`), or at 1:1 for a top-level key. Diagnostics are sorted by position.
// The format itself is described for designers in docs/scenario-guide.md and for editors in
// scenarios/schema.json; keep the three in step.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/spec.h"

namespace shardsim::scenario {

struct Diagnostic {
  SourceLoc loc;
  std::string message;
  // "file:line:col: error: message"
  std::string format() const;
};

struct LoadResult {
  std::optional<ScenarioSpec> spec;  // set only when there are no errors
  std::vector<Diagnostic> errors;    // sorted by (line, column)
  bool ok() const { return spec.has_value() && errors.empty(); }
};

// Reads and validates a scenario file. A missing, unreadable or empty file is a diagnostic at
// path:1:1, like any other input error.
LoadResult load_file(const std::string& path);

// Validates scenario text; `file_name` is used in diagnostics and ScenarioSpec::file.
LoadResult load_string(std::string_view text, const std::string& file_name);

}  // namespace shardsim::scenario
