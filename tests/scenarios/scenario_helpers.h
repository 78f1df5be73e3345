// Helpers shared by the scenario tests: load a shipped scenario, run it with its violations and the
// replay command attached to any failure, require a run to be clean, and look at the trace records
// of a stretch of simulated time.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
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

inline sim::RunResult run(const scenario::ScenarioSpec& spec, const sim::RunOptions& options) {
  sim::RunResult r = sim::run_scenario(spec, options);
  UNSCOPED_INFO("replay: " << r.replay_command());
  for (const auto& v : r.violations)
    UNSCOPED_INFO(v.checker << " at t=" << v.at.us() << "us entity " << v.entity << ": " << v.detail);
  return r;
}

inline sim::RunResult run(const scenario::ScenarioSpec& spec,
                          std::optional<std::uint64_t> seed = std::nullopt) {
  sim::RunOptions options;
  options.seed = seed;
  return run(spec, options);
}

inline void require_clean(const sim::RunResult& r) {
  CHECK(r.violation_count == 0);
  for (const char* m : {"players.lost", "players.duplicated", "aoi.continuity_violations", "aoi.reentries",
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

// The trace records a run makes in the simulated interval [from, to), and the run itself cut at
// `to` (its metrics cover [0, to); with to = spec.duration it is the full run). Two runs: one cut
// at `from` counts the records made before it — cutting a run short does not change what happens
// before its end (the same seed draws the same numbers; checkers never feed back) — and one cut at
// `to` keeps every record from that count on. Memory grows with to - from (~50,000 records per
// simulated second with 800 players), so keep the interval to a few seconds.
struct TraceWindow {
  sim::RunResult run;
  std::vector<sim::TraceRecord> records;
};

inline TraceWindow trace_window(const scenario::ScenarioSpec& spec, std::uint64_t seed, Time from,
                                Time to) {
  REQUIRE(Time::zero() < from);
  REQUIRE(from < to);
  REQUIRE(to <= Time::zero() + spec.duration);
  scenario::ScenarioSpec cut = spec;
  cut.expect.clear();
  cut.duration = from - Time::zero();
  sim::RunOptions options;
  options.seed = seed;
  const std::uint64_t before = sim::run_scenario(cut, options).trace_records;
  cut.duration = to - Time::zero();
  if (to == Time::zero() + spec.duration) cut.expect = spec.expect;
  TraceWindow w;
  options.trace_capture = &w.records;
  options.capture_from = before;
  options.capture_to = UINT64_MAX;
  w.run = sim::run_scenario(cut, options);
  if (cut.duration == spec.duration) {
    UNSCOPED_INFO("replay: " << w.run.replay_command());
  } else {
    UNSCOPED_INFO("trace window of " << spec.name << " seed " << seed << ": the run cut at "
                                     << to.us() << "us");
  }
  for (const auto& v : w.run.violations)
    UNSCOPED_INFO(v.checker << " at t=" << v.at.us() << "us entity " << v.entity << ": "
                            << v.detail);
  // The window starts where the cut run ended: no record of it is before `from`, and it begins
  // within a tick of `from` (every tick records something).
  REQUIRE(!w.records.empty());
  INFO("window starts at " << w.records.front().t.us() << "us, asked for " << from.us() << "us");
  REQUIRE(w.records.front().t >= from);
  REQUIRE(w.records.front().t < from + spec.tick);
  return w;
}

}  // namespace shardsim::testing
