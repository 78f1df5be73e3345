// `shardsim merge FILE.jsonl... [--out merged.jsonl]`: folds the results files of a sharded sweep
// into one, and prints the sweep summary over all of them.
//
// Every line must be a valid sweep record (sweep_record.h); a bad one is reported as `file:line:
// error:` and the command exits 2 having written nothing. Records are sorted by (scenario name,
// seed) — the order `sweep` writes — and kept verbatim. Two records of one (scenario, seed), e.g.
// from overlapping shards or a resumed sweep, are one run seen twice: the first (in argument order)
// is kept, and if their digests (or crash signals) disagree the pair is reported as
// nondeterministic.
//
// Exit codes: 0 every run passed; 1 a run failed, crashed or was nondeterministic; 2 bad input.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace shardsim::tools {

struct MergeOptions {
  std::vector<std::string> inputs;
  std::string out;
};

void add_merge_options(CLI::App& app, MergeOptions& options);
int run_merge(const MergeOptions& options);

}  // namespace shardsim::tools
