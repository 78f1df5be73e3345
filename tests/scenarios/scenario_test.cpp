// Scenario tests: each shipped scenario runs at its own seed and must keep every checker clean, meet
// every expectation, produce the concrete figures asserted here, and give the same digest twice.
// A failure prints the one-line command that replays the run.
#include <catch2/catch.hpp>

#include <string>

#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"

namespace {

using shardsim::scenario::ScenarioSpec;
using shardsim::sim::RunOptions;
using shardsim::sim::RunResult;

ScenarioSpec load_shipped(const std::string& name) {
  auto r = shardsim::scenario::load_file(std::string{SHARDSIM_SOURCE_DIR} + "/scenarios/" + name);
  for (const auto& d : r.errors) UNSCOPED_INFO(d.format());
  REQUIRE(r.ok());
  return *r.spec;
}

RunResult run(const ScenarioSpec& spec, std::optional<std::uint64_t> seed = std::nullopt) {
  RunOptions options;
  options.seed = seed;
  RunResult r = shardsim::sim::run_scenario(spec, options);
  UNSCOPED_INFO("replay: " << r.replay_command());
  for (const auto& v : r.violations)
    UNSCOPED_INFO(v.checker << " at t=" << v.at.us() << "us entity " << v.entity << ": " << v.detail);
  return r;
}

void require_clean(const RunResult& r) {
  CHECK(r.violation_count == 0);
  CHECK(r.metric("players.lost") == 0);
  CHECK(r.metric("players.duplicated") == 0);
  CHECK(r.metric("aoi.continuity_violations") == 0);
  CHECK(r.metric("aoi.oracle_mismatches") == 0);
  CHECK(r.metric("bots.density_violations") == 0);
  CHECK(r.metric("net.decode_errors") == 0);
  CHECK(r.metric("channel.overflows") == 0);
  for (const auto& e : r.expectations) {
    INFO(e.expectation.metric << " " << e.expectation.text << " actual " << e.actual);
    CHECK(e.passed);
  }
  CHECK(r.passed);
}

}  // namespace

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

// Every shipped scenario, shortened to 5 simulated seconds: fast enough for the sanitizer build.
TEST_CASE("scenario smoke: every shipped scenario for 5 simulated seconds", "[scenario]") {
  for (const char* name : {"quickstart.yaml", "border_oscillation.yaml", "flash_crowd.yaml",
                           "entities_10k.yaml"}) {
    INFO(name);
    ScenarioSpec spec = load_shipped(name);
    spec.duration = shardsim::Duration::seconds(5);
    spec.expect.clear();  // thresholds are calibrated for the full duration
    const RunResult a = run(spec);
    require_clean(a);
    CHECK(a.metric("aoi.messages") > 0);
    CHECK(run(spec).digest == a.digest);
  }
}
