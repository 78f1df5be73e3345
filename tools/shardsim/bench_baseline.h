// Performance regression detection: `shardsim bench --save-baseline FILE` measures a fixed set of
// cases and writes them; `shardsim bench --baseline FILE` measures them again and flags every
// figure that got >= 20 % worse.
//
// These machines are shared and noisy (the same run's wall time was seen to vary by 1.6x within a
// minute), so two kinds of figure are kept apart:
//  - Work counters (events, trace records, messages, bytes on the wire, heap allocations, peak
//    heap) are deterministic: the same build and scenario give the same numbers on every run, so
//    they are compared exactly — any change is reported, >= 20 % more is a regression.
//  - Time is this thread's CPU time (a shared VM's wall clock includes other tenants' turns), and
//    it is never compared as seconds. Each repeat runs a fixed calibration workload (sorting and
//    hashing a seeded array: the same instructions every time) right before the case, and records
//    run time / calibration time; the median of those ratios is compared. A machine that is slower
//    for a while slows both, and the ratio stays put. Noise that outlasts a whole measurement (a
//    neighbour busy for half a minute) is the rest: a time alarm is measured again, twice, and
//    stands only if every measurement is over the threshold.
//
// A regression makes the command exit 1; a missing or malformed baseline exits 2 with the reason.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace shardsim::tools {

struct BenchOptions;

struct CaseFigures {
  std::string name;
  std::string digest;                                      // informational: behaviour changed?
  std::vector<std::pair<std::string, double>> counters;    // deterministic
  double time_ratio{0};                                    // median of run / calibration
  double wall_median{0};                                   // seconds, informational
  double calibration_median{0};                            // seconds, informational
};

inline constexpr double kRegressionThreshold = 0.20;
inline constexpr int kConfirmations = 2;

// Runs the regression cases (quickstart; cross_node's first 30 simulated seconds), each
// `repeats` times. `slowdown_percent` (a debug knob) adds that much more of the same work to every
// timed run (the scenario again, for that fraction of its duration), to show that a real slowdown
// is caught.
// The cases' names, in measuring order; a baseline must hold exactly these.
std::vector<std::string> regression_case_names();
std::vector<CaseFigures> measure_regression_cases(const BenchOptions& o, int slowdown_percent);

std::string baseline_json(const std::vector<CaseFigures>& cases, int repeats);
// Parses a baseline file's text; on failure returns false with `error` set.
bool parse_baseline(const std::string& text, std::vector<CaseFigures>& out, std::string& error);

// One case's time ratio measured again (to confirm an alarm), or nullopt for an unknown case.
std::optional<double> remeasure_time_ratio(const std::string& name, const BenchOptions& o,
                                           int slowdown_percent);

// Prints the comparison table; returns the number of regressions. A time figure over the
// threshold is measured again up to kConfirmations times with `remeasure` and counts only if every
// measurement is over it (the lowest is reported).
int compare_to_baseline(const std::vector<CaseFigures>& baseline,
                        const std::vector<CaseFigures>& now,
                        const std::function<std::optional<double>(const std::string&)>& remeasure);

}  // namespace shardsim::tools
