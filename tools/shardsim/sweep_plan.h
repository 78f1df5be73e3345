// What a sweep will run: scenarios x seeds, cut into a shard, in a fixed order.
//
// Run i of a plan is (scenario i / seeds_per_scenario, seed number i % seeds_per_scenario of the
// shard); scenarios are ordered by name, seeds ascending. That order is the order of the results
// file, and it is also the order `shardsim merge` sorts into, so shards merged back together give
// the same file as one machine sweeping the whole range (wall_ms aside).
//
// Shard i/n (0-based) holds the seeds s of [first, last] with (s - first) % n == i: n machines
// started with i = 0..n-1 cover the range exactly once and never need to talk to each other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario/spec.h"

namespace shardsim::tools {

struct SeedRange {
  std::uint64_t first{0};
  std::uint64_t last{0};  // inclusive
};

struct Shard {
  std::uint64_t index{0};
  std::uint64_t count{1};
};

// "A..B" (A <= B) or a single seed "N".
std::optional<SeedRange> parse_seed_range(std::string_view text, std::string& error);
// "i/n" with n >= 1 and i < n.
std::optional<Shard> parse_shard(std::string_view text, std::string& error);
// "P%" or "P", 0 <= P <= 100.
std::optional<unsigned> parse_percent(std::string_view text, std::string& error);

// True for the seeds `--recheck P%` reruns: a fixed, seed-determined sample of about P % of them,
// the same on every machine and every shard layout.
bool recheck_selected(std::uint64_t seed, unsigned percent);

// How many seeds of `range` fall in `shard` (saturating at UINT64_MAX).
std::uint64_t seeds_in_shard(SeedRange range, Shard shard);

class SweepPlan {
 public:
  SweepPlan(std::vector<scenario::ScenarioSpec> specs, SeedRange range, Shard shard);

  std::uint64_t seeds_per_scenario() const { return per_scenario_; }
  std::uint64_t runs() const { return per_scenario_ * specs_.size(); }
  const std::vector<scenario::ScenarioSpec>& specs() const { return specs_; }
  std::size_t scenario_of(std::size_t run) const { return run / per_scenario_; }
  const scenario::ScenarioSpec& spec_of(std::size_t run) const { return specs_[scenario_of(run)]; }
  std::uint64_t seed_of(std::size_t run) const;

 private:
  std::vector<scenario::ScenarioSpec> specs_;  // by name
  SeedRange range_;
  Shard shard_;
  std::uint64_t per_scenario_{0};
};

}  // namespace shardsim::tools
