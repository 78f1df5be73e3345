// Scenario tests: each shipped scenario runs at its own seed and must keep every checker clean, meet
// every expectation, produce the concrete figures asserted here, and give the same digest twice.
// A failure prints the one-line command that replays the run.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/scenarios/scenario_helpers.h"

using shardsim::scenario::ScenarioSpec;
using shardsim::sim::RunResult;
using shardsim::testing::load_shipped;
using shardsim::testing::require_clean;
using shardsim::testing::run;

TEST_CASE("scenario: quickstart", "[scenario][slow]") {
  const ScenarioSpec spec = load_shipped("quickstart.yaml");
  REQUIRE(spec.players.count == 1000);
  REQUIRE(spec.world.cells_x * spec.world.cells_y == 64);
  const RunResult a = run(spec, 7);
  require_clean(a);
  // 2 min at 20 Hz: every joined client gets a batch nearly every tick (its own position moves).
  CHECK(a.metric("aoi.messages") > 2'000'000);
  CHECK(a.metric("handover.local.count") > 500);
  CHECK(a.metric("client.inputs") >= 1000);  // every player sent at least its first waypoint
  CHECK(a.metric("entities.max") >= 1000 + 64 * 2);
  CHECK(a.metric("net.dropped") > 0);  // 0.1 % loss is really injected ...
  CHECK(a.metric("channel.retransmits") > 0);  // ... and really repaired
  CHECK(a.metric("aoi.bytes_per_client_tick") < 40);  // the payload budget (ADR 0001)

  const RunResult again = run(spec, 7);
  CHECK(again.digest == a.digest);
  CHECK(again.events == a.events);
  const RunResult other = run(spec, 8);
  CHECK(other.digest != a.digest);
  require_clean(other);
}

TEST_CASE("scenario: border_oscillation", "[scenario]") {
  const ScenarioSpec spec = load_shipped("border_oscillation.yaml");
  const RunResult a = run(spec);
  require_clean(a);
  // Every player walks back and forth across a border past the hysteresis: handovers are frequent, and
  // none of them may cost the client a leave/enter (continuity == 0 above).
  CHECK(a.metric("handover.local.count") >= spec.players.count);
  CHECK(run(spec).digest == a.digest);
}

TEST_CASE("scenario: flash_crowd", "[scenario][slow]") {
  const ScenarioSpec spec = load_shipped("flash_crowd.yaml");
  const RunResult a = run(spec);
  require_clean(a);
  // The crowd converges: AOI fan-out per client grows far beyond the uniform quickstart's.
  CHECK(a.metric("aoi.bytes_per_client_tick") > 60);
  CHECK(a.metric("aoi.enters") > 50'000);
  CHECK(a.metric("handover.local.count") > 500);
}

TEST_CASE("scenario: entities_10k", "[scenario][slow]") {
  const ScenarioSpec spec = load_shipped("entities_10k.yaml");
  const RunResult a = run(spec);
  require_clean(a);
  CHECK(a.metric("entities.max") >= 9'500);
  CHECK(a.metric("bots.spawned") >= 256 * 30);
}

TEST_CASE("scenario: quickstart's messages by type are its client streams' frames", "[scenario]") {
  ScenarioSpec spec = load_shipped("quickstart.yaml");
  spec.duration = shardsim::Duration::seconds(5);
  spec.expect.clear();
  const RunResult r = run(spec);
  require_clean(r);
  const auto m = shardsim::testing::messages_by_type(r);
  // One node, no gateway: every message is a ReliableChannel frame between node and client.
  CHECK(m.types == std::vector<std::string>{"channel.data", "channel.ack", "channel.gap_ack"});
  CHECK(m.messages == r.metric("net.messages"));
  CHECK(m.bytes == r.metric("net.bytes"));
  CHECK(r.metric("net.msg.channel.data.count") > r.metric("net.msg.channel.ack.count"));
  CHECK(r.metric("net.msg.channel.ack.count") > 0);
  CHECK(r.metric("net.msg.channel.gap_ack.count") > 0);  // 0.1 % loss and 1 % reordering
  CHECK(r.metric("net.cluster.messages") == 0);
  CHECK(r.metric("net.msg.cluster.ghosts.count") == 0);
  CHECK(r.metric("net.msg.client.up.bytes") == 0);
  // Nor per-node load: a Phase A run reports none (reads 0, like node.load.max).
  for (const auto& [name, value] : r.metrics) CHECK_FALSE(shardsim::split_node_metric(name));
  CHECK(r.metric("node.node-1.load.peak") == 0);
  CHECK(r.metric("node.load.imbalance.mean") == 0);
}

// Every shipped scenario, shortened to 5 simulated seconds: fast enough for the sanitizer build.
// The deliberate-bug and clock-jump scenarios exist to fail; for them only determinism is checked.
TEST_CASE("scenario smoke: every shipped scenario for 5 simulated seconds", "[scenario]") {
  for (const auto& name : shardsim::testing::shipped_scenarios()) {
    INFO(name);
    ScenarioSpec spec = load_shipped(name);
    spec.duration = shardsim::Duration::seconds(5);
    spec.expect.clear();  // thresholds are calibrated for the full duration
    const RunResult a = run(spec);
    const bool meant_to_fail = name.rfind("bug_", 0) == 0 || name == "clock_jump.yaml";
    if (!meant_to_fail) require_clean(a);
    CHECK(a.metric("aoi.messages") > 0);
    CHECK(run(spec).digest == a.digest);
  }
}
