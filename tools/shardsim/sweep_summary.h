// The end-of-sweep summary shared by `shardsim sweep` and `shardsim merge`: a table per scenario
// (runs, passed, failed, crashed, nondeterministic, runs/s, mean wall ms), then every failure with
// the exact command that replays it. Scenarios are listed by name; failures in (scenario, seed)
// order.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/shardsim/sweep_record.h"

namespace shardsim::tools {

class SweepSummary {
 public:
  void add(const SweepRecord& r);
  // Two runs of one (scenario, seed) disagreed: `first` is the record kept, `other` how the other
  // run ended (a digest, or "crash (SIGABRT)").
  void add_nondeterministic(const SweepRecord& first, const std::string& other);
  // Wall seconds during which the scenario's runs were in flight; without it (merge) runs/s is "-".
  void set_elapsed(const std::string& scenario, double seconds);

  std::size_t runs() const { return total_.runs; }
  std::size_t failures() const { return total_.failed + total_.crashed; }
  bool all_passed() const { return total_.runs == total_.passed && nondeterministic_.empty(); }

  void print(std::FILE* out, std::optional<double> elapsed_total) const;

 private:
  struct Tally {
    std::size_t runs{0};
    std::size_t passed{0};
    std::size_t failed{0};
    std::size_t crashed{0};
    std::size_t nondeterministic{0};
    std::uint64_t wall_ms_sum{0};
    std::optional<double> elapsed;
  };
  struct Nondeterministic {
    SweepRecord first;
    std::string other;
  };
  void print_row(std::FILE* out, const std::string& name, const Tally& t) const;

  std::map<std::string, Tally> by_scenario_;
  Tally total_;
  std::vector<SweepRecord> failed_;  // failures and crashes, in arrival order; sorted when printed
  std::vector<Nondeterministic> nondeterministic_;
};

}  // namespace shardsim::tools
