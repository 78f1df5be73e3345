// Runner: a tiny inline scenario (50 players, 2 x 2 cells, 10 s) end to end — checkers clean,
// handovers happen, the digest is a function of (scenario, seed), and the switches that exist for
// benchmarks (checkers off, hashing off) do not perturb the run they measure.
#include "sim/runner/runner.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "sim/runner/metrics.h"
#include "sim/scenario/loader.h"

namespace shardsim::sim {
namespace {

constexpr const char* kTiny = R"(name: tiny
description: 50 players walk across the borders of a 2 x 2 grid for 10 seconds.
seed: 5
duration: 10s
tick: 50ms
world:
  size: [400m, 400m]
  cells: [2, 2]
  aoi_radius: 40m
  hysteresis: 5m
  handover_dwell: 200ms
cluster:
  nodes: 1
players:
  count: 50
  spawn: uniform
  movement: border-oscillation
  speed: [3m/s, 6m/s]
bots:
  density: [2, 4]
network:
  latency: {distribution: uniform, min: 1ms, max: 4ms}
  loss: 0.5%
  duplicate: 0.2%
  reorder: 1%
expect:
  players.lost: "== 0"
  handover.local.count: "> 0"
)";

scenario::ScenarioSpec tiny() {
  auto r = scenario::load_string(kTiny, "tiny.yaml");
  for (const auto& d : r.errors) UNSCOPED_INFO(d.format());
  REQUIRE(r.ok());
  return *r.spec;
}

RunResult run(const scenario::ScenarioSpec& spec, RunOptions options = {}) {
  RunResult r = run_scenario(spec, options);
  UNSCOPED_INFO("replay: " << r.replay_command());
  for (const auto& v : r.violations)
    UNSCOPED_INFO(v.checker << " at t=" << v.at.us() << "us entity " << v.entity << ": "
                            << v.detail);
  return r;
}

}  // namespace

TEST_CASE("runner: a tiny scenario runs clean and hands players over", "[sim][runner][scenario]") {
  const auto spec = tiny();
  REQUIRE(spec.players.count == 50);
  const RunResult r = run(spec);
  CHECK(r.scenario == "tiny");
  CHECK(r.seed == 5);
  CHECK(r.sim_seconds == 10.0);
  CHECK(r.violation_count == 0);
  CHECK(r.violations.empty());
  CHECK(r.metric("players.lost") == 0);
  CHECK(r.metric("players.duplicated") == 0);
  CHECK(r.metric("aoi.continuity_violations") == 0);
  CHECK(r.metric("aoi.oracle_mismatches") == 0);
  CHECK(r.metric("bots.density_violations") == 0);
  CHECK(r.metric("handover.local.count") > 0);
  // The run did real work: the network lost and duplicated messages and the channels repaired it.
  CHECK(r.metric("aoi.messages") > 50 * 100);
  CHECK(r.metric("net.dropped") > 0);
  CHECK(r.metric("net.duplicated") > 0);
  CHECK(r.metric("channel.retransmits") > 0);
  CHECK(r.metric("entities.max") >= 50 + 4 * 2);
  REQUIRE(r.expectations.size() == 2);
  CHECK(r.expectations[0].passed);
  CHECK(r.expectations[1].passed);
  CHECK(r.expectations[1].actual == r.metric("handover.local.count"));
  CHECK(r.passed);
  // The registry, then the message types that occurred: a Phase A run's channel frames.
  REQUIRE(r.metrics.size() == std::size(kMetrics) + 2 * 3);
  CHECK(r.metrics[std::size(kMetrics)].first == "net.msg.channel.data.count");
  CHECK(r.metrics.back().first == "net.msg.channel.gap_ack.bytes");
  CHECK(r.events > 0);
  CHECK(r.trace_records > r.events);
  CHECK(r.digest_hex().size() == 16);
  CHECK(r.replay_command() == "shardsim replay tiny.yaml --seed 5 --digest " + r.digest_hex());
}

TEST_CASE("runner: the same seed gives the same digest, another seed another",
          "[sim][runner][scenario]") {
  const auto spec = tiny();
  const RunResult a = run(spec);
  const RunResult b = run(spec);
  CHECK(b.digest == a.digest);
  CHECK(b.events == a.events);
  CHECK(b.trace_records == a.trace_records);
  CHECK(b.metrics == a.metrics);

  RunOptions other_seed;
  other_seed.seed = 6;
  const RunResult c = run(spec, other_seed);
  CHECK(c.seed == 6);
  CHECK(c.digest != a.digest);
  CHECK(c.violation_count == 0);

  // The seed option and the scenario's own seed are the same thing.
  RunOptions same_seed;
  same_seed.seed = 5;
  CHECK(run(spec, same_seed).digest == a.digest);
}

TEST_CASE("runner: checkers observe the run without perturbing it", "[sim][runner][scenario]") {
  const auto spec = tiny();
  const RunResult with = run(spec);
  RunOptions off;
  off.checkers = false;
  const RunResult without = run(spec, off);
  CHECK(without.digest == with.digest);
  CHECK(without.events == with.events);
  CHECK(without.trace_records == with.trace_records);
  // Everything but the checkers' own figures is identical.
  REQUIRE(without.metrics.size() == with.metrics.size());
  for (std::size_t i = 0; i < with.metrics.size(); ++i) {
    const auto& name = with.metrics[i].first;
    if (name == "players.lost" || name == "players.duplicated" ||
        name == "aoi.continuity_violations" || name == "aoi.reentries" ||
        name == "aoi.oracle_mismatches" || name == "aoi.oracle_views" ||
        name == "bots.density_violations" || name == "client.view_lag.max")
      continue;
    INFO(name);
    CHECK(without.metrics[i] == with.metrics[i]);
  }
}

TEST_CASE("runner: turning hashing off changes the digest and nothing else",
          "[sim][runner][scenario]") {
  const auto spec = tiny();
  const RunResult hashed = run(spec);
  RunOptions off;
  off.hashing = false;
  const RunResult unhashed = run(spec, off);
  CHECK(unhashed.metrics == hashed.metrics);
  CHECK(unhashed.events == hashed.events);
  CHECK(unhashed.trace_records == hashed.trace_records);
  CHECK(unhashed.violation_count == hashed.violation_count);
  CHECK(unhashed.digest != hashed.digest);
}

TEST_CASE("runner: the JSONL trace has one line per trace record", "[sim][runner][scenario]") {
  auto spec = tiny();
  spec.duration = Duration::seconds(1);
  const std::string path = std::string{SHARDSIM_BINARY_DIR} + "/runner_test_trace.jsonl";
  RunOptions options;
  options.trace_path = path;
  const RunResult traced = run(spec, options);
  const RunResult plain = run(spec);
  CHECK(traced.digest == plain.digest);  // writing the trace does not change the run

  std::ifstream in{path};
  REQUIRE(in.good());
  std::string line;
  std::uint64_t lines = 0;
  std::uint64_t node_ticks = 0;
  while (std::getline(in, line)) {
    ++lines;
    node_ticks += line.find(R"("kind":"tick","host":"node-1")") != std::string::npos;
  }
  CHECK(lines == traced.trace_records);
  CHECK(node_ticks == 20);  // 1 s at 50 ms
  in.close();
  std::remove(path.c_str());
}

TEST_CASE("runner: expectations are evaluated with their operators", "[sim][runner][scenario]") {
  using scenario::CompareOp;
  CHECK(compare(1, CompareOp::lt, 2));
  CHECK_FALSE(compare(2, CompareOp::lt, 2));
  CHECK(compare(2, CompareOp::le, 2));
  CHECK(compare(2, CompareOp::eq, 2));
  CHECK_FALSE(compare(2, CompareOp::ne, 2));
  CHECK(compare(2, CompareOp::ge, 2));
  CHECK_FALSE(compare(2, CompareOp::gt, 2));
  CHECK(compare(3, CompareOp::gt, 2));
  CHECK(std::string{op_text(CompareOp::le)} == "<=");
  CHECK(std::string{op_text(CompareOp::ne)} == "!=");

  // A failing expectation fails the run even when every checker is clean.
  auto r = scenario::load_string(std::string{kTiny} + "  aoi.messages: \"< 10\"\n", "tiny.yaml");
  for (const auto& d : r.errors) UNSCOPED_INFO(d.format());
  REQUIRE(r.ok());
  r.spec->duration = Duration::seconds(2);
  const RunResult result = run(*r.spec);
  CHECK(result.violation_count == 0);
  REQUIRE(result.expectations.size() == 3);
  CHECK_FALSE(result.expectations[2].passed);
  CHECK_FALSE(result.passed);
}

}  // namespace shardsim::sim
