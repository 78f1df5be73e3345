// Helpers shared by the scenario tests: load a shipped scenario, run it with its violations and the
// replay command attached to any failure, and require a run to be clean.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/runner/metrics.h"
#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"

namespace shardsim::testing {

inline scenario::ScenarioSpec load_shipped(const std::string& name) {
  auto r = scenario::load_file(std::string{SHARDSIM_SOURCE_DIR} + "/scenarios/" + name);
  for (const auto& d : r.errors) UNSCOPED_INFO(d.format());
  REQUIRE(r.ok());
  return *r.spec;
}

// Every scenarios/*.yaml, sorted by name.
inline std::vector<std::string> shipped_scenarios() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator{std::string{SHARDSIM_SOURCE_DIR} + "/scenarios"})
    if (e.path().extension() == ".yaml") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline sim::RunResult run(const scenario::ScenarioSpec& spec,
                          std::optional<std::uint64_t> seed = std::nullopt) {
  sim::RunOptions options;
  options.seed = seed;
  sim::RunResult r = sim::run_scenario(spec, options);
  UNSCOPED_INFO("replay: " << r.replay_command());
  for (const auto& v : r.violations)
    UNSCOPED_INFO(v.checker << " at t=" << v.at.us() << "us entity " << v.entity << ": " << v.detail);
  return r;
}

inline void require_clean(const sim::RunResult& r) {
  CHECK(r.violation_count == 0);
  for (const char* m : {"players.lost", "players.duplicated", "aoi.continuity_violations",
                        "aoi.oracle_mismatches", "bots.density_violations", "net.decode_errors",
                        "channel.overflows", "split_brain.violations", "epoch.violations",
                        "ledger.acked_lost", "ledger.corrupt", "migration.lost",
                        "liveness.violations", "auth.rejected"}) {
    INFO(m);
    CHECK(r.metric(m) == 0);
  }
  for (const auto& e : r.expectations) {
    INFO(e.expectation.metric << " " << e.expectation.text << " actual " << e.actual);
    CHECK(e.passed);
  }
  CHECK(r.passed);
}

// The net.msg.<type>.* metrics of a run: the types reported, in order, and the sums of their
// counts and bytes (which must be net.messages and net.bytes).
struct MessagesByType {
  std::vector<std::string> types;
  double messages{0};
  double bytes{0};
  double cluster_messages{0};  // the cluster.* types: net.cluster.messages
  double cluster_bytes{0};
};
inline MessagesByType messages_by_type(const sim::RunResult& r) {
  MessagesByType m;
  for (const auto& [name, value] : r.metrics) {
    const auto split = split_message_metric(name);
    if (!split) continue;
    const bool cluster = split->type.starts_with("cluster.");
    if (split->unit == MetricUnit::count) {
      m.types.emplace_back(split->type);
      m.messages += value;
      if (cluster) m.cluster_messages += value;
    } else {
      m.bytes += value;
      if (cluster) m.cluster_bytes += value;
    }
  }
  return m;
}

}  // namespace shardsim::testing
