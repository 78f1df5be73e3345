// `shardsim bench`: benchmarks measured in-process, reported as medians of repeats. Never asserted on by
// tests: these machines are shared and noisy, so figures are quoted, compared as ratios against a
// baseline measured in the same process, and kept out of pass/fail.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace shardsim::tools {

struct BenchOptions {
  std::vector<std::string> suites;  // empty = all
  int repeats{5};
  std::string scenario_dir{"scenarios"};
  std::string baseline;       // --baseline FILE: compare the regression cases against it
  std::string save_baseline;  // --save-baseline FILE: measure the regression cases, write them
  int debug_slowdown{0};      // hidden: stretch every timed regression run by this many percent
};

void add_bench_options(CLI::App& app, BenchOptions& options);
int run_bench(const BenchOptions& options);

}  // namespace shardsim::tools
