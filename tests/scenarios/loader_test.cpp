// Scenario loader tests: every shipped scenario loads clean; every kind of bad input is rejected
// with an exact `file:line:col: error:` prefix and a message a designer can act on; every problem
// in a file is reported, not just the first; unit text converts exactly; the JSON Schema's metric
// list matches the registry. Bad inputs live in tests/scenarios/bad/*.yaml so the CLI tests can
// reuse them.
#include "sim/scenario/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/runner/metrics.h"
#include "sim/scenario/units.h"

#ifndef SHARDSIM_SOURCE_DIR
#error "define SHARDSIM_SOURCE_DIR (the source tree root) for this test"
#endif

namespace shardsim::scenario {
namespace {

namespace fs = std::filesystem;

std::string source_path(const std::string& relative) {
  return std::string{SHARDSIM_SOURCE_DIR} + "/" + relative;
}

std::string bad_fixture(const std::string& name) {
  return source_path("tests/scenarios/bad/" + name + ".yaml");
}

std::string all_errors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.errors) out += d.format() + "\n";
  return out;
}

// A scenario that loads clean, for tests that vary one thing.
constexpr std::string_view kMinimal = R"(name: minimal
duration: 10s
world:
  size: [1000m, 1000m]
  cells: [4, 4]
  aoi_radius: 50m
  hysteresis: 5m
players:
  count: 10
)";

LoadResult load_text(std::string_view text) { return load_string(text, "test.yaml"); }

// ---------------------------------------------------------------------------------------------
// Shipped scenarios

TEST_CASE("loader: every shipped scenario loads clean and names the schema", "[scenario][loader]") {
  int count = 0;
  for (const auto& file : fs::directory_iterator{source_path("scenarios")}) {
    if (file.path().extension() != ".yaml") continue;
    ++count;
    const std::string path = file.path().string();
    INFO(path);
    const LoadResult r = load_file(path);
    INFO(all_errors(r));
    CHECK(r.ok());
    std::ifstream in{path};
    std::string first_line;
    std::getline(in, first_line);
    CHECK(first_line == "# yaml-language-server: $schema=schema.json");
  }
  CHECK(count >= 4);
}

TEST_CASE("loader: quickstart.yaml becomes exactly the spec it describes", "[scenario][loader]") {
  const LoadResult r = load_file(source_path("scenarios/quickstart.yaml"));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const ScenarioSpec& s = *r.spec;
  CHECK(s.name == "quickstart");
  CHECK(s.seed == 7);
  CHECK(s.duration == Duration::seconds(120));
  CHECK(s.tick == Duration::millis(50));
  CHECK(s.world.width_mm == 4'000'000);
  CHECK(s.world.height_mm == 4'000'000);
  CHECK(s.world.cells_x == 8);
  CHECK(s.world.cells_y == 8);
  CHECK(s.world.cell_width_mm() == 500'000);
  CHECK(s.world.aoi_radius_mm == 100'000);
  CHECK(s.world.hysteresis_mm == 10'000);
  CHECK(s.world.handover_dwell == Duration::millis(500));
  CHECK(s.node_names == std::vector<std::string>{"node-1"});
  CHECK(s.players.count == 1000);
  CHECK_FALSE(s.players.hotspot.enabled);
  CHECK(s.players.movement == Movement::random_waypoint);
  CHECK(s.players.speed_min_mm_s == 1000);
  CHECK(s.players.speed_max_mm_s == 6000);
  CHECK(s.bots.density_min == 2);
  CHECK(s.bots.density_max == 8);
  CHECK(s.network.latency.kind == net::LatencyKind::lognormal);
  CHECK(s.network.latency.a == Duration::millis(2));
  CHECK(s.network.latency.b == Duration::millis(20));
  CHECK(s.network.loss_ppm == 1'000);
  CHECK(s.network.duplicate_ppm == 500);  // "0.05%": exact, never 499 through a double
  CHECK(s.network.reorder_ppm == 10'000);
  REQUIRE(s.expect.size() == 4);
  CHECK(s.expect[0].metric == "players.lost");
  CHECK(s.expect[0].op == CompareOp::eq);
  CHECK(s.expect[0].value == 0);
  CHECK(s.expect[3].metric == "handover.local.count");
  CHECK(s.expect[3].op == CompareOp::gt);
  CHECK(s.expect[3].value == 100);
  CHECK(s.expect[3].text == "> 100");
  CHECK(s.expect[3].loc.line == 30);
}

TEST_CASE("loader: flash_crowd.yaml spawns a quarter of the players at the castle",
          "[scenario][loader]") {
  const LoadResult r = load_file(source_path("scenarios/flash_crowd.yaml"));
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const HotspotSpawn& h = r.spec->players.hotspot;
  CHECK(h.enabled);
  CHECK(h.center == Vec2{3'000'000, 1'000'000});
  CHECK(h.radius_mm == 250'000);
  CHECK(h.fraction_ppm == 250'000);
  CHECK(r.spec->players.movement == Movement::hotspot);
}

TEST_CASE("loader: optional keys take their documented defaults", "[scenario][loader]") {
  const LoadResult r = load_text(kMinimal);
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const ScenarioSpec& s = *r.spec;
  CHECK(s.file == "test.yaml");
  CHECK(s.seed == 1);
  CHECK(s.description.empty());
  CHECK(s.tick == Duration::millis(50));
  CHECK(s.world.handover_dwell == Duration::millis(500));
  CHECK(s.node_names == std::vector<std::string>{"node-1"});
  CHECK_FALSE(s.players.hotspot.enabled);
  CHECK(s.players.movement == Movement::random_waypoint);
  CHECK(s.players.speed_min_mm_s == 1000);
  CHECK(s.players.speed_max_mm_s == 6000);
  CHECK(s.bots.density_min == 0);
  CHECK(s.bots.density_max == 0);
  CHECK(s.network.latency.kind == net::LatencyKind::constant);
  CHECK(s.network.latency.a == Duration::millis(1));
  CHECK(s.network.loss_ppm == 0);
  CHECK(s.expect.empty());
  // Phase B keys left out: Phase A, no ledger actions, no faults, no chaos, no bugs.
  CHECK(s.cluster.gateways == 0);
  CHECK_FALSE(s.cluster.phase_b());
  CHECK(s.cluster.assignment == Assignment::rendezvous);
  CHECK(s.cluster.cross_node);
  CHECK(s.cluster.lease == Duration::seconds(2));
  CHECK(s.cluster.heartbeat == Duration::millis(250));
  CHECK(s.cluster.checkpoint == Duration::seconds(1));
  CHECK(s.cluster.clock_drift_max == Duration::millis(50));
  CHECK(s.players.action_every == Duration::zero());
  CHECK(s.faults.empty());
  CHECK_FALSE(s.chaos.enabled());
  CHECK(s.bugs.empty());
}

TEST_CASE("loader: nodes as a count or as a list of names", "[scenario][loader]") {
  SECTION("a count of one names it node-1") {
    const LoadResult r = load_text(std::string{kMinimal} + "cluster:\n  nodes: 1\n");
    REQUIRE(r.ok());
    CHECK(r.spec->node_names == std::vector<std::string>{"node-1"});
  }
  SECTION("a list of one keeps the name") {
    const LoadResult r = load_text(std::string{kMinimal} + "cluster:\n  nodes: [west]\n");
    REQUIRE(r.ok());
    CHECK(r.spec->node_names == std::vector<std::string>{"west"});
  }
  SECTION("more than one node, as a count or a list, gets one gateway by default") {
    for (const char* nodes : {"3", "[west, east-2, north]"}) {
      const LoadResult r = load_text(std::string{kMinimal} + "cluster:\n  nodes: " + nodes + "\n");
      INFO(all_errors(r));
      REQUIRE(r.ok());
      CHECK(r.spec->node_names.size() == 3);
      CHECK(r.spec->cluster.gateways == 1);
      CHECK(r.spec->cluster.phase_b());
    }
  }
  SECTION("one node has no gateway by default (Phase A), but may be given one") {
    const LoadResult a = load_text(std::string{kMinimal} + "cluster:\n  nodes: 1\n");
    REQUIRE(a.ok());
    CHECK(a.spec->cluster.gateways == 0);
    CHECK_FALSE(a.spec->cluster.phase_b());
    const LoadResult b = load_text(std::string{kMinimal} + "cluster: {nodes: 1, gateways: 2}\n");
    REQUIRE(b.ok());
    CHECK(b.spec->cluster.gateways == 2);
  }
}

TEST_CASE("loader: expectations are stored in the metric's unit", "[scenario][loader]") {
  const LoadResult r = load_text(std::string{kMinimal} +
                                 "expect:\n"
                                 "  client.view_lag.max: \"<= 1.5s\"\n"
                                 "  aoi.bytes_per_client_tick: \"< 120.5\"\n"
                                 "  players.lost: == 0\n");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.spec->expect.size() == 3);
  CHECK(r.spec->expect[0].op == CompareOp::le);
  CHECK(r.spec->expect[0].value == 1500.0);  // durations in ms
  CHECK(r.spec->expect[1].op == CompareOp::lt);
  CHECK(r.spec->expect[1].value == 120.5);
  CHECK(r.spec->expect[2].value == 0);  // unquoted "== 0" is a plain YAML string too
}

TEST_CASE("loader: expectations on messages by type name any type, counts and bytes",
          "[scenario][loader]") {
  const LoadResult r = load_text(std::string{kMinimal} +
                                 "expect:\n"
                                 "  net.msg.cluster.ghosts.count: \"> 0\"\n"
                                 "  net.msg.client.down.bytes: \"< 5000000\"\n"
                                 "  net.msg.channel.gap_ack.count: \"== 0\"\n"
                                 "  net.msg.other.bytes: \"== 0\"\n");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.spec->expect.size() == 4);
  CHECK(r.spec->expect[0].metric == "net.msg.cluster.ghosts.count");
  CHECK(r.spec->expect[0].op == CompareOp::gt);
  CHECK(r.spec->expect[0].value == 0);
  CHECK(r.spec->expect[1].metric == "net.msg.client.down.bytes");
  CHECK(r.spec->expect[1].value == 5'000'000);
  CHECK(r.spec->expect[3].metric == "net.msg.other.bytes");

  // Every type, both metrics; nothing else under net.msg.
  for (const auto& type : sim::message_type_names()) {
    for (const char* suffix : {".count", ".bytes"}) {
      const std::string name = "net.msg." + type + suffix;
      INFO(name);
      const auto m = find_metric(name);
      REQUIRE(m.has_value());
      const bool count = suffix == std::string_view{".count"};
      CHECK(m->unit == (count ? MetricUnit::count : MetricUnit::bytes));
      CHECK(load_text(std::string{kMinimal} + "expect:\n  " + name + ": \">= 0\"\n").ok());
    }
  }
  for (const char* name :
       {"net.msg.cluster.count", "net.msg.cluster.ghosts", "net.msg.ghosts.count", "net.msg..count",
        "net.msg.cluster.ghosts.bits", "net.msg.Other.count", "net.msg.count",
        "net.msg.cluster.tunnel_batch.count.count"}) {
    INFO(name);
    CHECK_FALSE(find_metric(name).has_value());
  }
}

TEST_CASE("loader: latency distributions", "[scenario][loader]") {
  const auto latency = [](const std::string& value) {
    const LoadResult r = load_text(std::string{kMinimal} + "network:\n  latency: " + value + "\n");
    INFO(all_errors(r));
    REQUIRE(r.ok());
    return r.spec->network.latency;
  };
  auto l = latency("2ms");
  CHECK(l.kind == net::LatencyKind::constant);
  CHECK(l.a == Duration::millis(2));
  l = latency("{distribution: uniform, min: 1ms, max: 5ms}");
  CHECK(l.kind == net::LatencyKind::uniform);
  CHECK(l.a == Duration::millis(1));
  CHECK(l.b == Duration::millis(5));
  l = latency("{distribution: normal, mean: 3ms, stddev: 500us}");
  CHECK(l.kind == net::LatencyKind::normal);
  CHECK(l.a == Duration::millis(3));
  CHECK(l.b == Duration::micros(500));
}

// ---------------------------------------------------------------------------------------------
// Clusters, faults and chaos (Phase B)

// The example of docs/scenario-guide.md "Clusters, faults and chaos", keys in the documented order.
constexpr std::string_view kPhaseB = R"(name: phase_b
duration: 3min
world:
  size: [1000m, 1000m]
  cells: [4, 4]
  aoi_radius: 50m
  hysteresis: 5m
cluster: {nodes: 4, gateways: 1, assignment: rendezvous, lease: 2s, heartbeat: 250ms, checkpoint: 1s,
          clock_drift_max: 50ms, cross_node: true}
players: {count: 1000, movement: random-waypoint, speed: [1m/s, 6m/s], actions: 1/s}
faults:
  - {at: 30s, partition: [[node-1, node-2], [node-3, node-4, directory]], for: 10s}
  - {at: 45s, partition_oneway: {from: node-2, to: gateway-1}, for: 5s}
  - {at: 60s, crash: node-3, restart_after: 15s}
  - {at: 80s, pause: node-2, for: 3s}
  - {at: 90s, drain: node-4}
  - {at: 100s, clock_jump: {node: node-1, by: 400ms}}
  - {at: 110s, isolate: gateway-1, for: 2s}
  - {at: 115s, link: {between: [node-1, node-2], latency: 80ms, loss: 5%}, for: 10s}
chaos:
  until: 150s
  crash: {rate: 1/min, restart_after: [5s, 20s]}
  partition: {rate: 2/min, for: [1s, 10s]}
  pause: {rate: 1/min, for: [100ms, 3s]}
bugs: [skip_lease_check, ack_before_durable, unfenced_abort]
)";

// kPhaseB with `replace` substituted for `find`.
std::string phase_b_with(const std::string& find, const std::string& replace) {
  std::string text{kPhaseB};
  const auto at = text.find(find);
  REQUIRE(at != std::string::npos);
  text.replace(at, find.size(), replace);
  return text;
}

TEST_CASE("loader: the Phase B example becomes exactly the spec it describes",
          "[scenario][loader]") {
  const LoadResult r = load_text(kPhaseB);
  INFO(all_errors(r));
  REQUIRE(r.ok());
  const ScenarioSpec& s = *r.spec;
  CHECK(s.node_names == std::vector<std::string>{"node-1", "node-2", "node-3", "node-4"});
  CHECK(s.cluster.gateways == 1);
  CHECK(s.cluster.phase_b());
  CHECK(s.cluster.assignment == Assignment::rendezvous);
  CHECK(s.cluster.lease.us() == 2'000'000);
  CHECK(s.cluster.heartbeat.us() == 250'000);
  CHECK(s.cluster.checkpoint.us() == 1'000'000);
  CHECK(s.cluster.clock_drift_max.us() == 50'000);
  CHECK(s.cluster.cross_node);
  CHECK(s.players.count == 1000);
  CHECK(s.players.action_every.us() == 1'000'000);

  REQUIRE(s.faults.size() == 8);
  const auto& partition = s.faults[0];
  CHECK(partition.kind == FaultKind::partition);
  CHECK(partition.at.us() == 30'000'000);
  CHECK(partition.duration.us() == 10'000'000);
  CHECK(partition.groups == std::vector<std::vector<std::string>>{
                                {"node-1", "node-2"}, {"node-3", "node-4", "directory"}});
  CHECK(partition.loc.file == "test.yaml");
  CHECK(partition.loc.line == 12);
  CHECK(partition.loc.column == 5);
  const auto& oneway = s.faults[1];
  CHECK(oneway.kind == FaultKind::partition_oneway);
  CHECK(oneway.at.us() == 45'000'000);
  CHECK(oneway.host == "node-2");
  CHECK(oneway.peer == "gateway-1");
  CHECK(oneway.duration.us() == 5'000'000);
  const auto& crash = s.faults[2];
  CHECK(crash.kind == FaultKind::crash);
  CHECK(crash.at.us() == 60'000'000);
  CHECK(crash.host == "node-3");
  CHECK(crash.restart_after.us() == 15'000'000);
  CHECK(crash.duration == Duration::zero());
  const auto& pause = s.faults[3];
  CHECK(pause.kind == FaultKind::pause);
  CHECK(pause.at.us() == 80'000'000);
  CHECK(pause.host == "node-2");
  CHECK(pause.duration.us() == 3'000'000);
  const auto& drain = s.faults[4];
  CHECK(drain.kind == FaultKind::drain);
  CHECK(drain.at.us() == 90'000'000);
  CHECK(drain.host == "node-4");
  CHECK(drain.duration == Duration::zero());
  const auto& jump = s.faults[5];
  CHECK(jump.kind == FaultKind::clock_jump);
  CHECK(jump.at.us() == 100'000'000);
  CHECK(jump.host == "node-1");
  CHECK(jump.jump.us() == 400'000);
  const auto& isolate = s.faults[6];
  CHECK(isolate.kind == FaultKind::isolate);
  CHECK(isolate.at.us() == 110'000'000);
  CHECK(isolate.host == "gateway-1");
  CHECK(isolate.duration.us() == 2'000'000);
  const auto& link = s.faults[7];
  CHECK(link.kind == FaultKind::link);
  CHECK(link.at.us() == 115'000'000);
  CHECK(link.host == "node-1");
  CHECK(link.peer == "node-2");
  CHECK(link.has_latency);
  CHECK(link.latency ==
        net::LatencySpec{net::LatencyKind::constant, Duration::millis(80), Duration::zero()});
  CHECK(link.has_loss);
  CHECK(link.loss_ppm == 50'000);
  CHECK(link.duration.us() == 10'000'000);
  CHECK(link.loc.line == 19);

  CHECK(s.chaos.enabled());
  CHECK(s.chaos.until.us() == 150'000'000);
  CHECK(s.chaos.loc.line == 21);
  CHECK(s.chaos.crash.mean_interval.us() == 60'000'000);
  CHECK(s.chaos.crash.min.us() == 5'000'000);
  CHECK(s.chaos.crash.max.us() == 20'000'000);
  CHECK(s.chaos.partition.mean_interval.us() == 30'000'000);
  CHECK(s.chaos.partition.min.us() == 1'000'000);
  CHECK(s.chaos.partition.max.us() == 10'000'000);
  CHECK(s.chaos.pause.mean_interval.us() == 60'000'000);
  CHECK(s.chaos.pause.min.us() == 100'000);
  CHECK(s.chaos.pause.max.us() == 3'000'000);
  CHECK(s.bugs ==
        std::vector<Bug>{Bug::skip_lease_check, Bug::ack_before_durable, Bug::unfenced_abort});
}

TEST_CASE("loader: Phase B variations", "[scenario][loader]") {
  const auto load = [](const std::string& text) {
    const LoadResult r = load_text(text);
    INFO(text);
    INFO(all_errors(r));
    REQUIRE(r.ok());
    return *r.spec;
  };
  SECTION("a clock may jump back") {
    const auto s = load(phase_b_with("by: 400ms", "by: -400ms"));
    CHECK(s.faults[5].jump.us() == -400'000);
  }
  SECTION("least-loaded assignment, cross-node off, several gateways, zero drift") {
    std::string text = phase_b_with("gateways: 1, assignment: rendezvous",
                                    "gateways: 3, assignment: least-loaded");
    text.replace(text.find("clock_drift_max: 50ms, cross_node: true"), 39,
                 "clock_drift_max: 0s, cross_node: false");
    const auto s = load(text);
    CHECK(s.cluster.assignment == Assignment::least_loaded);
    CHECK_FALSE(s.cluster.cross_node);
    CHECK(s.cluster.gateways == 3);
    CHECK(s.cluster.clock_drift_max == Duration::zero());
  }
  SECTION("faults are kept in file order, not sorted by time") {
    const auto s = load(phase_b_with("  - {at: 30s, partition", "  - {at: 170s, partition"));
    CHECK(s.faults[0].at.us() == 170'000'000);
    CHECK(s.faults[1].at.us() == 45'000'000);
  }
  SECTION(
      "a partition or link may name gateways, the store and the directory, and last to the end") {
    const auto s = load(phase_b_with(
        "  - {at: 30s, partition: [[node-1, node-2], [node-3, node-4, directory]], for: 10s}",
        "  - {at: 30s, partition: [[gateway-1, store], [node-1], [directory]]}\n"
        "  - {at: 31s, link: {between: [store, node-2], latency: {distribution: uniform, min: 1ms, "
        "max: 9ms}}}"));
    CHECK(s.faults[0].groups.size() == 3);
    CHECK(s.faults[0].duration == Duration::zero());
    CHECK(s.faults[1].host == "store");
    CHECK(s.faults[1].latency.kind == net::LatencyKind::uniform);
    CHECK_FALSE(s.faults[1].has_loss);
  }
  SECTION("a fault on node-1 is fine in a Phase A scenario") {
    const auto s = load(std::string{kMinimal} + "faults:\n  - {at: 1s, crash: node-1}\n");
    CHECK(s.faults.size() == 1);
    CHECK(s.faults[0].restart_after == Duration::zero());
  }
  SECTION("empty fault and bug lists") {
    const auto s = load(std::string{kMinimal} + "faults: []\nbugs: []\n");
    CHECK(s.faults.empty());
    CHECK(s.bugs.empty());
  }
  SECTION("one chaos kind is enough; the others stay off") {
    const auto s =
        load(phase_b_with("  crash: {rate: 1/min, restart_after: [5s, 20s]}\n"
                          "  partition: {rate: 2/min, for: [1s, 10s]}\n",
                          ""));
    CHECK_FALSE(s.chaos.crash.enabled());
    CHECK_FALSE(s.chaos.partition.enabled());
    CHECK(s.chaos.pause.enabled());
  }
  SECTION("action rates: fractional, per minute and per hour, rounded to the microsecond") {
    CHECK(load(phase_b_with("actions: 1/s", "actions: 0.5/s")).players.action_every.us() ==
          2'000'000);
    CHECK(load(phase_b_with("actions: 1/s", "actions: 6/s")).players.action_every.us() == 166'667);
    CHECK(load(phase_b_with("actions: 1/s", "actions: 20/s")).players.action_every.us() == 50'000);
    CHECK(load(phase_b_with("actions: 1/s", "actions: 2/min")).players.action_every.us() ==
          30'000'000);
    CHECK(load(phase_b_with("actions: 1/s", "actions: 20/h")).players.action_every.us() ==
          180'000'000);
  }
}

// kPhaseB with `replace` for `find`; the single error it must give.
std::string phase_b_error(const std::string& find, const std::string& replace) {
  const std::string text = phase_b_with(find, replace);
  const LoadResult r = load_text(text);
  INFO(text);
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 1);
  return r.errors[0].format();
}

TEST_CASE("loader: more bad Phase B input, inline", "[scenario][loader]") {
  const std::string crash = "  - {at: 60s, crash: node-3, restart_after: 15s}";
  CHECK(phase_b_error(crash, "  - {at: 60s, crash: gatewy-1}") ==
        "test.yaml:14:22: error: unknown host `gatewy-1` in `faults[2].crash`; did you mean "
        "`gateway-1`?");
  CHECK(phase_b_error(crash, "  - {at: 60s, crash: castle}") ==
        "test.yaml:14:22: error: unknown host `castle` in `faults[2].crash`; the hosts are "
        "node-1..node-4, gateway-1, store and directory");
  CHECK(phase_b_error(crash, "  - {at: 60s, crash: [node-1]}") ==
        "test.yaml:14:22: error: `faults[2].crash` must be a host name such as node-1, got a list");
  CHECK(phase_b_error(crash, "  - {at: 60s, crsh: node-3}") ==
        "test.yaml:14:15: error: unknown key `crsh` in `faults[2]`; did you mean `crash`?");
  CHECK(phase_b_error(crash, "  - crash node-3") ==
        "test.yaml:14:5: error: `faults[2]` must be a map with keys such as `at`, `crash`, "
        "`partition`, got a single value");
  CHECK(phase_b_error(crash, "  - {crash: node-3}") ==
        "test.yaml:14:5: error: `faults[2]` is missing required key `at`");
  CHECK(phase_b_error(crash, "  - {at: -1s, crash: node-3}") ==
        "test.yaml:14:10: error: `faults[2].at` cannot be negative, got -1s");
  CHECK(phase_b_error(crash, "  - {at: 3min, crash: node-3}") ==
        "test.yaml:14:10: error: `faults[2].at` (3min) must be before the end of the run "
        "(`duration` 3min)");
  CHECK(phase_b_error(crash, "  - {at: 60s, crash: node-3, restart_after: 0s}") ==
        "test.yaml:14:45: error: `faults[2].restart_after` must be greater than zero, got 0s");
  CHECK(phase_b_error(crash, "  - {at: 60s, drain: node-3, for: 1s}") ==
        "test.yaml:14:30: error: `faults[2].for` does not apply to `drain`: a drained node leaves "
        "for good");
  CHECK(
      phase_b_error("clock_jump: {node: node-1, by: 400ms}", "clock_jump: {node: store, by: 1s}") ==
      "test.yaml:17:35: error: `faults[5].clock_jump.node` must name a node, got `store` (the "
      "session store); leases are timed by node clocks");
  CHECK(phase_b_error("by: 400ms", "by: 0ms") ==
        "test.yaml:17:47: error: `faults[5].clock_jump.by` must not be zero: a jump of 0s changes "
        "nothing; write e.g. 400ms forward or -400ms back");
  CHECK(phase_b_error("by: 400ms", "by: 400") ==
        "test.yaml:17:47: error: `faults[5].clock_jump.by`: duration needs a unit: us, ms, s or "
        "min (got `400`)");
  CHECK(phase_b_error("[[node-1, node-2], [node-3, node-4, directory]]", "[[node-1], []]") ==
        "test.yaml:12:37: error: `faults[0].partition[1]` is an empty group; every group needs at "
        "least one host");
  CHECK(phase_b_error("[[node-1, node-2], [node-3, node-4, directory]]", "[node-1, node-2]") ==
        "test.yaml:12:26: error: `faults[0].partition` must be a list of host groups such as "
        "[[node-1, node-2], [node-3]], got a list of host names; to cut one host off from all "
        "others, use `isolate`");
  CHECK(phase_b_error("[[node-1, node-2], [node-3, node-4, directory]]", "[[node-1], node-2]") ==
        "test.yaml:12:37: error: `faults[0].partition[1]` must be a list of host names such as "
        "[node-1, node-2], got a single value");
  CHECK(phase_b_error("between: [node-1, node-2]", "between: [node-1, node-2, node-3]") ==
        "test.yaml:19:32: error: `faults[7].link.between` must be a list of two hosts such as "
        "[node-1, node-2], got a list of 3");
  CHECK(phase_b_error("between: [node-1, node-2]", "between: [node-1, node-1]") ==
        "test.yaml:19:41: error: `faults[7].link.between` names `node-1` twice; a link joins two "
        "different hosts");
  CHECK(phase_b_error("loss: 5%", "loss: 5") ==
        "test.yaml:19:71: error: `faults[7].link.loss`: percentage needs a `%` sign (got `5`); "
        "write 5%");
  CHECK(
      phase_b_error("latency: 80ms", "latency: {distribution: lognormal, median: 9ms, p99: 1ms}") ==
      "test.yaml:19:103: error: `faults[7].link.latency.p99` (1ms) must be greater than `median` "
      "(9ms)");
  CHECK(phase_b_error("  until: 150s", "  until: 4min") ==
        "test.yaml:21:10: error: `chaos.until` (4min) must not exceed `duration` (3min)");
  CHECK(phase_b_error("  until: 150s", "  until: 0s") ==
        "test.yaml:21:10: error: `chaos.until` must be greater than zero, got 0s");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 2/min}") ==
        "test.yaml:23:3: error: `chaos.partition` is missing required key `for`");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 2/min, restart_after: [1s, 2s]}") ==
        "test.yaml:23:28: error: `chaos.partition.restart_after` does not apply to chaos "
        "`partition`, which takes `for`");
  CHECK(phase_b_error("{rate: 1/min, restart_after: [5s, 20s]}", "{rate: 1/min, for: [5s, 20s]}") ==
        "test.yaml:22:24: error: `chaos.crash.for` does not apply to chaos `crash`, which takes "
        "`restart_after`");
  CHECK(phase_b_error("{rate: 1/min, restart_after: [5s, 20s]}",
                      "{rate: 1/min, restart_afer: [5s, 20s]}") ==
        "test.yaml:22:24: error: unknown key `restart_afer` in `chaos.crash`; did you mean "
        "`restart_after`?");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 2/min, for: [-1s, 10s]}") ==
        "test.yaml:23:34: error: `chaos.partition.for` min cannot be negative, got -1s");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 3000000/s, for: [1s, 10s]}") ==
        "test.yaml:23:21: error: `chaos.partition.rate`: `3000000/s` is faster than one event per "
        "microsecond");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 0.01/h, for: [1s, 10s]}") ==
        "test.yaml:23:21: error: `chaos.partition.rate`: `0.01/h` is slower than one event per "
        "1440min, the longest run");
  CHECK(phase_b_error("{rate: 2/min, for: [1s, 10s]}", "{rate: 2, for: [1s, 10s]}") ==
        "test.yaml:23:21: error: `chaos.partition.rate`: rate needs a unit: /s, /min or /h (got "
        "`2`)");
  CHECK(phase_b_error("  crash: {rate: 1/min, restart_after: [5s, 20s]}\n"
                      "  partition: {rate: 2/min, for: [1s, 10s]}\n"
                      "  pause: {rate: 1/min, for: [100ms, 3s]}\n",
                      "") ==
        "test.yaml:20:1: error: `chaos` enables no fault kind; give at least one of `crash`, "
        "`partition` or `pause`");
  CHECK(phase_b_error("actions: 1/s", "actions: -1/s") ==
        "test.yaml:10:81: error: `players.actions`: a rate cannot be negative, got `-1/s`");
  CHECK(phase_b_error("actions: 1/s", "actions: 1/h") ==
        "test.yaml:10:81: error: `players.actions` (1/h) is one action every 60min, longer than "
        "`duration` (3min), so no player would act");
  CHECK(phase_b_error("cross_node: true", "cross_node: yes") ==
        "test.yaml:9:46: error: `cluster.cross_node` must be one of true or false, got `yes`");
  CHECK(phase_b_error("gateways: 1,", "gateways: 65,") ==
        "test.yaml:8:31: error: `cluster.gateways` must be between 0 and 64, got 65");
  CHECK(phase_b_error("lease: 2s, heartbeat: 250ms", "lease: 200ms") ==
        "test.yaml:8:65: error: `cluster.heartbeat` (250ms, the default) must be shorter than "
        "`cluster.lease` (200ms): a node renews its lease every heartbeat, so it must renew "
        "before the lease runs out");
  CHECK(phase_b_error("checkpoint: 1s", "checkpoint: 0s") ==
        "test.yaml:8:99: error: `cluster.checkpoint` must be greater than zero, got 0s");
  CHECK(
      phase_b_error("[skip_lease_check, ack_before_durable, unfenced_abort]", "skip_lease_check") ==
      "test.yaml:25:7: error: `bugs` must be a list of bug names such as [skip_lease_check], got "
      "a single value");
}

TEST_CASE("loader: faults triggered by protocol events", "[scenario][loader]") {
  const std::string crash = "  - {at: 60s, crash: node-3, restart_after: 15s}";
  {
    const LoadResult r = load_text(phase_b_with(
        crash, "  - {on: handover.commit_sent, nth: 3, partition: [[source], [target]], for: 2s}\n"
               "  - {on: cell.migration_started, at: 20s, crash: target, restart_after: 1s}"));
    INFO(all_errors(r));
    REQUIRE(r.ok());
    const auto& f = r.spec->faults;
    const auto it = std::find_if(f.begin(), f.end(), [](const FaultSpec& x) {
      return x.on == FaultEvent::handover_commit_sent;
    });
    REQUIRE(it != f.end());
    CHECK(it->nth == 3);
    CHECK(it->at == Time::zero());
    CHECK(it->groups == std::vector<std::vector<std::string>>{{"source"}, {"target"}});
    const auto mig = std::find_if(f.begin(), f.end(), [](const FaultSpec& x) {
      return x.on == FaultEvent::cell_migration_started;
    });
    REQUIRE(mig != f.end());
    CHECK(mig->nth == 1);
    CHECK(mig->at == Time::from_micros(20'000'000));
    CHECK(mig->host == "target");
  }
  CHECK(phase_b_error(crash, "  - {at: 60s, nth: 3, crash: node-3}") ==
        "test.yaml:14:15: error: `faults[2].nth` counts protocol events, so it needs `on:` (one of "
        "handover.started, handover.commit_sent, handover.installed, handover.aborted, "
        "cell.migration_started)");
  CHECK(phase_b_error(crash, "  - {at: 60s, crash: source}") ==
        "test.yaml:14:22: error: unknown host `source` in `faults[2].crash`; `source` is a role, "
        "which only a fault with `on:` (a protocol event) can name");
  CHECK(phase_b_error(crash, "  - {on: handover.comit_sent, crash: source}") ==
        "test.yaml:14:10: error: `faults[2].on` must be one of handover.started, "
        "handover.commit_sent, handover.installed, handover.aborted or cell.migration_started, "
        "got `handover.comit_sent`; did you mean `handover.commit_sent`?");
  CHECK(phase_b_error(crash, "  - {on: handover.started, nth: 0, crash: source}") ==
        "test.yaml:14:33: error: `faults[2].nth` must be greater than zero, got 0");
  {
    const LoadResult r = load_text(phase_b_with("nodes: 4,", "nodes: [node-1, node-2, node-3, target],"));
    CHECK(all_errors(r).find("test.yaml:8:43: error: node name `target` is reserved: faults with "
                             "`on:` use it for a role; choose another name") != std::string::npos);
  }
  CHECK(phase_b_error(crash, "  - {on: handover.started, drain: store}") ==
        "test.yaml:14:35: error: `faults[2].drain` must name a node, got `store` (the session "
        "store); only nodes own cells to drain");
}

TEST_CASE("loader: Phase B checks that need a valid cluster wait for one", "[scenario][loader]") {
  // A wrong node list is one error, not one more per fault that names those nodes.
  const LoadResult r = load_text(phase_b_with("nodes: 4", "nodes: [node-1, Node-2]"));
  REQUIRE(r.errors.size() == 1);
  CHECK_THAT(r.errors[0].message, Catch::Contains("node name `Node-2` is invalid"));
  // Drain needs a second node to take the cells; chaos needs one to fail over to.
  const std::string one_node = std::string{kMinimal} + "cluster: {nodes: 1, gateways: 1}\n";
  CHECK(load_text(one_node + "faults:\n  - {at: 1s, drain: node-1}\n").errors.at(0).format() ==
        "test.yaml:12:21: error: `faults[0].drain` needs at least 2 nodes, so that the drained "
        "node's cells have somewhere to go; this scenario has 1");
  CHECK(load_text(one_node + "faults:\n  - {at: 1s, crash: store}\n").ok());
}

TEST_CASE("loader: at most kMaxFaults faults", "[scenario][loader]") {
  std::string text = std::string{kMinimal} + "faults:\n";
  for (std::size_t i = 0; i <= kMaxFaults; ++i) text += "  - {at: 1s, crash: node-1}\n";
  const LoadResult r = load_text(text);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].format() ==
        "test.yaml:11:3: error: `faults` lists 10001 faults, above the limit of 10000");
}

// ---------------------------------------------------------------------------------------------
// Bad input: one fixture per kind of problem, each asserting the exact position and the message.

struct BadCase {
  const char* fixture;  // tests/scenarios/bad/<fixture>.yaml
  int line;
  int column;
  const char* fragment;
  std::size_t errors;  // how many problems the file has: guards against cascades of messages
};

constexpr BadCase kBadCases[] = {
    {"unknown_key", 7, 3, "unknown key `aoi_radiu` in `world`; did you mean `aoi_radius`?", 1},
    {"wrong_type", 6, 10,
     "`world.cells` must be a list of two whole numbers [x, y] such as [8, 8], "
     "got a single value",
     1},
    {"not_a_number", 10, 10, "`players.count`: expected a whole number, got `lots`", 1},
    {"negative_duration", 3, 11, "`duration` cannot be negative, got -5s", 1},
    {"unitless_duration", 4, 7, "`tick`: duration needs a unit: us, ms, s or min (got `50`)", 1},
    {"unitless_distance", 7, 15, "`world.aoi_radius`: distance needs a unit: mm, m or km", 1},
    {"zero_cells", 6, 11, "`world.cells` x must be greater than zero, got 0", 1},
    {"too_many_cells", 6, 11, "`world.cells` x must be between 1 and 256, got 1000", 1},
    {"uneven_cells", 6, 10,
     "world width 1000m does not split into 3 equal cells to the millimetre; "
     "use a width such as 999m or 1002m",
     1},
    {"cells_too_small", 6, 10,
     "cells are 125m x 125m, too small for aoi_radius 50m and hysteresis "
     "10m: cells must be at least 2 * (aoi_radius + 2 * hysteresis) = "
     "140m across",
     1},
    {"aoi_grid_too_fine", 7, 15,
     "aoi_radius 0.001m plus hysteresis 0m is too small for a world 100000m across: the AOI grid, in "
     "squares of aoi_radius + hysteresis, would be 100000000 squares across, above the limit of "
     "65536; make aoi_radius + hysteresis at least 1.526m",
     1},
    {"malformed", 6, 8, "malformed YAML: end of sequence flow not found (a `[` is never closed)",
     1},
    {"stray_comma", 2, 1, "malformed YAML: unexpected `,`", 1},
    {"invalid_node_name", 10, 18, "node name `Node_2` is invalid", 1},
    {"duplicate_node_names", 13, 7, "duplicate node name `alpha` (first listed at line 11)", 1},
    {"p99_below_median", 12, 57, "`network.latency.p99` (2ms) must be greater than `median` (20ms)",
     1},
    {"latency_wrong_param", 12, 3, "`network.latency` is missing required key `max`", 2},
    {"too_many_players", 10, 10, "`players.count` must be between 0 and 200000, got 5000000", 1},
    {"empty", 1, 1, "scenario file is empty", 1},
    {"comments_only", 1, 1, "scenario file is empty", 1},
    {"not_a_map", 2, 1, "the scenario must be a map with keys such as `name`", 1},
    {"missing_required", 1, 1, "missing required key `duration`", 2},
    {"unknown_metric", 13, 3,
     "unknown metric `players.lots` in `expect`; did you mean "
     "`players.lost`?",
     1},
    {"unknown_node_metric", 16, 3,
     "unknown metric `node.node-9.load.peak` in `expect`: no node `node-9` in this scenario; its "
     "nodes are node-1..node-4",
     1},
    {"unknown_message_type", 13, 3,
     "unknown metric `net.msg.cluster.nonsense.count` in `expect`: no message type "
     "`cluster.nonsense`; docs/scenario-guide.md lists them",
     1},
    {"expect_bad_op", 12, 17,
     "`expect.players.lost` must be \"OP VALUE\" with OP one of "
     "< <= == != >= >",
     1},
    {"expect_missing_unit", 12, 24, "`expect.client.view_lag.max`: duration needs a unit", 1},
    {"reserved_cluster_key", 11, 3,
     "`cluster.session_store` is not supported yet (planned: a later issue); remove it for now", 1},
    {"percent_over_100", 12, 9, "`network.loss` must be between 0% and 100%, got 150%", 1},
    {"percent_without_sign", 12, 9, "`network.loss`: percentage needs a `%` sign (got `0.5`)", 1},
    {"duplicate_key", 10, 1, "duplicate key `tick` at the top level (first defined at line 4)", 1},
    {"tick_out_of_range", 4, 7, "`tick` must be between 1ms and 1s, got 2s", 1},
    {"tick_exceeds_duration", 4, 7, "`tick` (500ms) must not exceed `duration` (300ms)", 1},
    {"hotspot_outside_world", 11, 29,
     "`players.spawn.hotspot.center` [1500m, 500m] is outside the "
     "world",
     1},
    {"speed_min_above_max", 11, 10, "`players.speed`: min (6m/s) must not exceed max (1m/s)", 1},
    {"unknown_movement", 11, 13, "got `random-waypiont`; did you mean `random-waypoint`?", 1},
    // cluster
    {"nodes_without_gateway", 11, 13,
     "`cluster.gateways` is 0, but 4 nodes need at least one gateway: clients reach cells on other "
     "nodes through it",
     1},
    {"unknown_assignment", 11, 15,
     "`cluster.assignment` must be one of rendezvous or least-loaded, got `least_loaded`; did you "
     "mean `least-loaded`?",
     1},
    {"heartbeat_not_below_lease", 12, 14,
     "`cluster.heartbeat` (1s) must be shorter than `cluster.lease` (1s)", 1},
    {"clock_drift_too_large", 12, 20,
     "`cluster.clock_drift_max` (1s) must be less than half of `cluster.lease` (2s)", 1},
    {"node_name_reserved", 10, 18,
     "node name `store` is reserved for the session store; choose another name", 1},
    // players.actions
    {"actions_bad_rate_unit", 11, 12,
     "`players.actions`: unknown rate unit `/fortnight` in `1/fortnight`; use /s, /min or /h", 1},
    {"actions_faster_than_tick", 11, 12,
     "`players.actions` (100/s) is one action every 10ms, more often than the tick (50ms); use at "
     "most 20/s",
     1},
    // faults
    {"fault_unknown_host", 14, 21,
     "unknown host `node3` in `faults[0].crash`; did you mean `node-3`?", 1},
    {"fault_on_store_phase_a", 12, 21,
     "unknown host `store` in `faults[0].crash`: this scenario has no gateways, so it has no "
     "`store`, `directory` or `gateway-N` hosts",
     1},
    {"fault_drain_gateway", 14, 21,
     "`faults[0].drain` must name a node, got `gateway-1` (a gateway); only nodes own cells to "
     "drain",
     1},
    {"fault_after_end", 14, 10,
     "`faults[0].at` (90s) must be before the end of the run (`duration` 1min)", 1},
    {"fault_two_kinds", 14, 29,
     "`faults[0]` has two fault kinds, `crash` and `pause`; give each fault its own entry", 1},
    {"fault_without_kind", 14, 5,
     "`faults[0]` names no fault kind; give one of partition, partition_oneway, crash, pause, "
     "drain, clock_jump, isolate or link",
     1},
    {"fault_crash_with_for", 14, 29,
     "`faults[0].for` does not apply to `crash`: a crashed host stays down until `restart_after`",
     1},
    {"fault_pause_without_for", 14, 5, "`faults[0]` is missing required key `for`", 1},
    {"fault_restart_after_pause", 14, 38,
     "`faults[0].restart_after` applies only to `crash`, not to `pause`", 1},
    {"partition_one_group", 14, 25,
     "`faults[0].partition` must split the hosts into at least 2 groups, got 1; to cut one host "
     "off from all others, use `isolate`",
     1},
    {"partition_host_twice", 14, 45,
     "`node-2` is already in `faults[0].partition[0]`; a host can be in only one group", 1},
    {"oneway_same_host", 14, 51,
     "`faults[0].partition_oneway.to` is `node-2`, the same host as `from`", 1},
    {"link_without_change", 15, 5, "`faults[0].link` needs `latency`, `loss` or both", 1},
    // chaos
    {"chaos_without_until", 13, 1, "`chaos` is missing required key `until`", 1},
    {"chaos_zero_rate", 15, 17,
     "`chaos.crash.rate`: a rate must be greater than zero, got `0/min`; leave the key out for "
     "none",
     1},
    {"chaos_range_reversed", 15, 29, "`chaos.pause.for`: min (3s) must not exceed max (100ms)", 1},
    {"chaos_one_node", 11, 1,
     "`chaos` needs a cluster of at least 2 nodes (`cluster.nodes`), this scenario has 1", 1},
    // bugs
    {"unknown_bug", 13, 8,
     "`bugs[0]` must be one of skip_lease_check, ack_before_durable, unfenced_abort, ghost_gap or "
     "ghost_no_corners, got `skip_lease_chek`; did you mean `skip_lease_check`?",
     1},
    {"duplicate_bug", 13, 44, "duplicate bug `unfenced_abort` in `bugs` (first listed at line 13)",
     1},
};

TEST_CASE("loader: each kind of bad input is reported at its file:line:col", "[scenario][loader]") {
  for (const BadCase& c : kBadCases) {
    DYNAMIC_SECTION(c.fixture) {
      const std::string path = bad_fixture(c.fixture);
      const LoadResult r = load_file(path);
      INFO(all_errors(r));
      CHECK_FALSE(r.ok());
      CHECK_FALSE(r.spec.has_value());
      REQUIRE(r.errors.size() == c.errors);
      const std::string prefix =
          path + ":" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": error: ";
      const std::string first = r.errors.front().format();
      CHECK(first.substr(0, prefix.size()) == prefix);
      CHECK_THAT(first, Catch::Contains(c.fragment));
    }
  }
}

TEST_CASE("loader: every bad fixture is rejected and covered by a case", "[scenario][loader]") {
  std::set<std::string> covered;
  for (const BadCase& c : kBadCases) covered.insert(c.fixture);
  covered.insert("multi_error");
  for (const auto& file : fs::directory_iterator{source_path("tests/scenarios/bad")}) {
    if (file.path().extension() != ".yaml") continue;
    INFO(file.path().string());
    CHECK_FALSE(load_file(file.path().string()).ok());
    CHECK(covered.count(file.path().stem().string()) == 1);
  }
}

TEST_CASE("loader: a file with several mistakes reports all of them, in file order",
          "[scenario][loader]") {
  const std::string path = bad_fixture("multi_error");
  const LoadResult r = load_file(path);
  const std::vector<std::string> expected = {
      path + ":3:11: error: `duration`: duration needs a unit: us, ms, s or min (got `10`)",
      path + ":7:11: error: `world.cells` x must be greater than zero, got 0",
      path + ":10:3: error: unknown key `handover_dwel` in `world`; did you mean `handover_dwell`?",
      path + ":12:10: error: `players.count` cannot be negative, got -3",
      path +
          ":13:13: error: `players.movement` must be one of random-waypoint, "
          "border-oscillation or hotspot, got `teleport`",
      path + ":15:9: error: `network.loss` must be between 0% and 100%, got 101%",
      path +
          ":17:5: error: `bugs[0]` must be one of skip_lease_check, ack_before_durable, "
          "unfenced_abort, ghost_gap or ghost_no_corners, got `skip_lease_chek`; did you mean "
          "`skip_lease_check`?",
      path +
          ":19:3: error: unknown metric `players.lostt` in `expect`; did you mean "
          "`players.lost`?",
  };
  std::vector<std::string> actual;
  for (const auto& d : r.errors) actual.push_back(d.format());
  CHECK(actual == expected);
}

TEST_CASE("loader: a missing file or a directory is an error at path:1:1", "[scenario][loader]") {
  SECTION("missing file") {
    const std::string path = source_path("tests/scenarios/bad/no_such_file.yaml");
    const LoadResult r = load_file(path);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].format() ==
          path + ":1:1: error: cannot open scenario file: No such file or directory");
  }
  SECTION("directory") {
    const std::string path = source_path("tests/scenarios/bad");
    const LoadResult r = load_file(path);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].format() == path + ":1:1: error: this is a directory, not a scenario file");
  }
}

// Loads kMinimal with `replace` substituted for `find`, and returns the single error it must give.
std::string single_error(const std::string& find, const std::string& replace) {
  std::string text{kMinimal};
  const auto at = text.find(find);
  REQUIRE(at != std::string::npos);
  text.replace(at, find.size(), replace);
  const LoadResult r = load_text(text);
  INFO(text);
  INFO(all_errors(r));
  REQUIRE(r.errors.size() == 1);
  return r.errors[0].format();
}

TEST_CASE("loader: a mistyped message metric is reported with the nearest type",
          "[scenario][loader]") {
  const auto expect = [](const std::string& line) {
    return single_error("  count: 10\n", "  count: 10\nexpect:\n  " + line + "\n");
  };
  CHECK(expect("net.msg.cluster.ghost.count: \"> 0\"") ==
        "test.yaml:11:3: error: unknown metric `net.msg.cluster.ghost.count` in `expect`: no "
        "message type `cluster.ghost`; did you mean `cluster.ghosts`?");
  CHECK(expect("net.msg.client.up.bits: \"> 0\"") ==
        "test.yaml:11:3: error: unknown metric `net.msg.client.up.bits` in `expect`: messages by "
        "type are `net.msg.<type>.count` and `net.msg.<type>.bytes`");
  CHECK(expect("net.msg.client.up.count: \"> 1ms\"") ==
        "test.yaml:11:28: error: `expect.net.msg.client.up.count`: net.msg.client.up.count is a "
        "count: expected a plain number without a unit, got `1ms`");
}

// kMinimal on a cluster of `nodes` (a count, or a list of names).
std::string cluster_text(const std::string& nodes) {
  return std::string{kMinimal} + "cluster:\n  nodes: " + nodes + "\n";
}

TEST_CASE("loader: expectations on per-node load name the scenario's own nodes",
          "[scenario][loader]") {
  const LoadResult r = load_text(cluster_text("4") +
                                 "expect:\n"
                                 "  node.node-2.load.peak: \"> 0\"\n"
                                 "  node.node-4.cells.end: \"== 0\"\n"
                                 "  node.node-1.players.end: \">= 10\"\n"
                                 "  node.load.imbalance.mean: \"< 1.5\"\n");
  INFO(all_errors(r));
  REQUIRE(r.ok());
  REQUIRE(r.spec->expect.size() == 4);
  CHECK(r.spec->expect[0].metric == "node.node-2.load.peak");
  CHECK(r.spec->expect[0].op == CompareOp::gt);
  CHECK(r.spec->expect[0].value == 0);
  CHECK(r.spec->expect[1].metric == "node.node-4.cells.end");
  CHECK(r.spec->expect[2].value == 10);
  CHECK(r.spec->expect[3].value == 1.5);
  CHECK(find_metric("node.load.imbalance.mean")->unit == MetricUnit::ratio);

  // Every field of every node; the names a cluster lists, not node-N.
  for (const auto& field : kNodeFields) {
    for (const char* node : {"node-1", "node-4"}) {
      const std::string name = fmt::format("node.{}.{}", node, field.name);
      INFO(name);
      CHECK(find_metric(name)->unit == MetricUnit::count);
      CHECK(load_text(cluster_text("4") + "expect:\n  " + name + ": \">= 0\"\n").ok());
    }
  }
  CHECK(load_text(cluster_text("[eu-1, us-2]") + "expect:\n  node.us-2.load.end: \"> 0\"\n").ok());
  // A Phase A scenario has one node, node-1 (whose figures read 0: see metrics.h).
  CHECK(load_text(std::string{kMinimal} + "expect:\n  node.node-1.load.peak: \"== 0\"\n").ok());

  // The family's shape, whatever the scenario.
  const auto split = split_node_metric("node.eu-1.players.peak");
  REQUIRE(split.has_value());
  CHECK(split->node == "eu-1");
  CHECK(split->field->name == "players.peak");
  for (const char* name : {"node.load.max", "node.fences", "node.eu-1.players", "node.eu-1",
                           "node.Eu-1.load.end", "node..load.end", "net.node-1.load.end"}) {
    INFO(name);
    CHECK_FALSE(split_node_metric(name).has_value());
  }
}

TEST_CASE("loader: a per-node metric of a node the scenario does not have is an input error",
          "[scenario][loader]") {
  const auto expect = [](const std::string& nodes, const std::string& line) {
    const LoadResult r = load_text(cluster_text(nodes) + "expect:\n  " + line + "\n");
    INFO(all_errors(r));
    REQUIRE(r.errors.size() == 1);
    return r.errors[0].format();
  };
  CHECK(expect("4", "node.node-9.load.peak: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node-9.load.peak` in `expect`: no node "
        "`node-9` in this scenario; its nodes are node-1..node-4");
  CHECK(expect("4", "node.node3.load.peak: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node3.load.peak` in `expect`: no node "
        "`node3` in this scenario; did you mean `node-3`?");
  CHECK(expect("[eu-1, us-2]", "node.node-1.cells.end: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node-1.cells.end` in `expect`: no node "
        "`node-1` in this scenario; its nodes are eu-1 and us-2");
  CHECK(expect("4", "node.node-2.load.max: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node-2.load.max` in `expect`: a node's load "
        "is node.node-2.<field> with <field> one of `cells.end`, `players.end`, `players.peak`, "
        "`load.end`, `load.peak`; did you mean `node.node-2.load.end`?");
  CHECK(expect("4", "node.node-2: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node-2` in `expect`: a node's load is "
        "node.node-2.<field> with <field> one of `cells.end`, `players.end`, `players.peak`, "
        "`load.end`, `load.peak`");
  CHECK(expect("4", "node.node-2.lod.peak: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.node-2.lod.peak` in `expect`: a node's load "
        "is node.node-2.<field> with <field> one of `cells.end`, `players.end`, `players.peak`, "
        "`load.end`, `load.peak`; did you mean `node.node-2.load.peak`?");
  CHECK(expect("4", "node.load.mx: \"> 0\"") ==
        "test.yaml:13:3: error: unknown metric `node.load.mx` in `expect`; did you mean "
        "`node.load.max`?");
  CHECK(expect("4", "node.node-2.load.peak: \"> 1ms\"") ==
        "test.yaml:13:26: error: `expect.node.node-2.load.peak`: node.node-2.load.peak is a count: "
        "expected a plain number without a unit, got `1ms`");
  CHECK(expect("4", "node.load.imbalance.mean: \"< 150%\"") ==
        "test.yaml:13:29: error: `expect.node.load.imbalance.mean`: node.load.imbalance.mean is a "
        "ratio: expected a plain number without a unit, got `150%`");
  // Phase A: one node, node-1.
  CHECK(single_error("  count: 10\n", "  count: 10\nexpect:\n  node.node-2.load.end: \"== 0\"\n") ==
        "test.yaml:11:3: error: unknown metric `node.node-2.load.end` in `expect`: no node "
        "`node-2` in this scenario; its nodes are node-1");
}

TEST_CASE("loader: more bad input, inline", "[scenario][loader]") {
  CHECK(single_error("name: minimal\n", "name: minimal\ncolour: red\n") ==
        "test.yaml:2:1: error: unknown key `colour` at the top level");
  CHECK(single_error("name: minimal", "name: Flash crowd!") ==
        "test.yaml:1:7: error: `name` must be 1 to 64 letters, digits, '-', '_' or '.', got "
        "`Flash crowd!`; put prose in `description`");
  CHECK(single_error("name: minimal\n", "name: minimal\nseed: -1\n") ==
        "test.yaml:2:7: error: `seed`: expected a whole number from 0 to 18446744073709551615, "
        "got `-1`");
  CHECK(single_error("duration: 10s", "duration: 10sec") ==
        "test.yaml:2:11: error: `duration`: unknown duration unit `sec` in `10sec`; use us, ms, s "
        "or min");
  CHECK(single_error("duration: 10s", "duration: 1.0000005s") ==
        "test.yaml:2:11: error: `duration`: `1.0000005s` is finer than the 1us resolution");
  CHECK(single_error("duration: 10s", "duration: 0s") ==
        "test.yaml:2:11: error: `duration` must be greater than zero, got 0s");
  CHECK(single_error("duration: 10s", "duration:") ==
        "test.yaml:2:1: error: `duration` must be a duration such as 250ms or 2s, got nothing");
  CHECK(single_error("hysteresis: 5m", "hysteresis: -5m") ==
        "test.yaml:7:15: error: `world.hysteresis` cannot be negative, got -5m");
  CHECK(single_error("size: [1000m, 1000m]", "size: [1000m, 1000m, 10m]") ==
        "test.yaml:4:9: error: `world.size` must be a list of two distances [width, height] such "
        "as [4000m, 4000m], got a list of 3");
  CHECK(single_error("  count: 10\n", "  count: 10\n  spawn: hotspot\n") ==
        "test.yaml:10:10: error: `players.spawn` must be `uniform` or {hotspot: {center: [x, y], "
        "radius: 300m, fraction: 50%}}, got `hotspot`");
  CHECK(single_error("  count: 10\n", "  count: 10\nbots:\n  density: [2, 10001]\n") ==
        "test.yaml:11:16: error: `bots.density` max must be between 0 and 10000, got 10001");
  CHECK(single_error("  count: 10\n",
                     "  count: 10\nnetwork:\n  latency: "
                     "{distribution: uniform, min: 1ms, min: 2ms, max: 3ms}\n") ==
        "test.yaml:11:46: error: duplicate key `min` in `network.latency` (first defined at line "
        "11)");
  CHECK(
      single_error("  count: 10\n", "  count: 10\nnetwork:\n  latency: {distribution: pareto}\n") ==
      "test.yaml:11:27: error: `network.latency.distribution` must be one of uniform, normal or "
      "lognormal, got `pareto`");
  CHECK(single_error("  count: 10\n", "  count: 10\nexpect:\n  players.lost: \"== 0ms\"\n") ==
        "test.yaml:11:17: error: `expect.players.lost`: players.lost is a count: expected a plain "
        "number without a unit, got `0ms`");
  CHECK(single_error("  count: 10\n", "  count: 10\nexpect:\n") ==
        "test.yaml:10:1: error: `expect` must be a map with keys such as `players.lost: \"== 0\"`, "
        "got nothing");
}

TEST_CASE("loader: a second YAML document is an error, not silently ignored",
          "[scenario][loader]") {
  const LoadResult r = load_text(std::string{kMinimal} + "---\nname: other\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].format() ==
        "test.yaml:11:1: error: a scenario file holds one YAML document, but a second one (after "
        "a `---` line) starts here");
}

TEST_CASE("loader: malformed YAML never hangs the loader", "[scenario][loader]") {
  // yaml-cpp 0.7's LoadAll loops forever on these (jbeder/yaml-cpp#1040); the loader must not.
  for (std::string_view text : {",", ", a: 1\n", "---\n,\n", "name: x\n---\n,\n"}) {
    const LoadResult r = load_text(text);
    INFO(text);
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].format(), Catch::Contains("error: "));
  }
  CHECK(load_text(", a: 1\n").errors[0].format() ==
        "test.yaml:1:1: error: malformed YAML: unexpected `,`");
  CHECK(single_error("  count: 10\n", "  count: 10\nexpect:\n  aoi.enters: > 100\n") ==
        "test.yaml:11:17: error: malformed YAML: unexpected character in block scalar (a value "
        "starting with `>` or `|` begins a block of text in YAML: quote expectations, e.g. "
        "\"> 100\")");
}

TEST_CASE("loader: empty text is an error at 1:1", "[scenario][loader]") {
  for (std::string_view text : {"", "\n\n", "# just a comment\n", "---\n"}) {
    const LoadResult r = load_text(text);
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0].format(), Catch::StartsWith("test.yaml:1:1: error: scenario file is "
                                                       "empty"));
  }
}

// ---------------------------------------------------------------------------------------------
// Units

TEST_CASE("units: durations", "[scenario][units]") {
  CHECK(*parse_duration("100us").value == Duration::micros(100));
  CHECK(*parse_duration("250ms").value == Duration::millis(250));
  CHECK(*parse_duration("250 ms").value == Duration::millis(250));
  CHECK(*parse_duration("2s").value == Duration::seconds(2));
  CHECK(*parse_duration("1.5s").value == Duration::millis(1500));
  CHECK(*parse_duration("2min").value == Duration::seconds(120));
  CHECK(*parse_duration("0.001ms").value == Duration::micros(1));
  CHECK(*parse_duration("-5s").value == Duration::seconds(-5));  // the loader rejects it by key
  CHECK(parse_duration("50").error == "duration needs a unit: us, ms, s or min (got `50`)");
  CHECK(parse_duration("0.0005ms").error == "`0.0005ms` is finer than the 1us resolution");
  CHECK(parse_duration("fast").error == "expected a duration such as 250ms, got `fast`");
  CHECK(parse_duration("1.s").error == "expected digits after the decimal point in `1.s`");
  CHECK(parse_duration("1e3ms").error ==
        "unknown duration unit `e3ms` in `1e3ms`; use us, ms, s "
        "or min");
  CHECK(parse_duration("99999999999999999999s").error == "`99999999999999999999s` is too large");
  CHECK_FALSE(parse_duration("").ok());
}

TEST_CASE("units: distances, speeds and plain numbers", "[scenario][units]") {
  CHECK(*parse_distance_mm("100m").value == 100'000);
  CHECK(*parse_distance_mm("4000m").value == 4'000'000);
  CHECK(*parse_distance_mm("2.5km").value == 2'500'000);
  CHECK(*parse_distance_mm("500mm").value == 500);
  CHECK(*parse_distance_mm("0.001m").value == 1);
  CHECK(parse_distance_mm("100").error == "distance needs a unit: mm, m or km (got `100`)");
  CHECK(parse_distance_mm("0.0001m").error == "`0.0001m` is finer than the 1mm resolution");
  CHECK(*parse_speed_mm_s("6m/s").value == 6'000);
  CHECK(*parse_speed_mm_s("0.5m/s").value == 500);
  CHECK(parse_speed_mm_s("6kph").error == "unknown speed unit `kph` in `6kph`; use m/s or mm/s");
  CHECK(*parse_integer("1000").value == 1000);
  CHECK(parse_integer("10.5").error == "expected a whole number, got `10.5`");
  CHECK(parse_integer("5ms").error == "expected a plain whole number without a unit, got `5ms`");
  CHECK(*parse_u64("18446744073709551615").value == UINT64_MAX);
  CHECK_FALSE(parse_u64("18446744073709551616").ok());
  CHECK(parse_decimal("0.05").value->mantissa == 5);
  CHECK(parse_decimal("0.05").value->scale == 2);
}

TEST_CASE("units: percentages convert exactly to ppm", "[scenario][units]") {
  CHECK(*parse_percent_ppm("0.05%").value == 500);
  CHECK(*parse_percent_ppm("0.1%").value == 1'000);
  CHECK(*parse_percent_ppm("0.5%").value == 5'000);
  CHECK(*parse_percent_ppm("1%").value == 10'000);
  CHECK(*parse_percent_ppm("33.3333%").value == 333'333);
  CHECK(*parse_percent_ppm("100%").value == 1'000'000);
  CHECK(*parse_percent_ppm("0.0001%").value == 1);
  CHECK(parse_percent_ppm("0.00001%").error ==
        "`0.00001%` is finer than the 0.0001% (1 ppm) "
        "resolution");
  CHECK(parse_percent_ppm("0.5").error == "percentage needs a `%` sign (got `0.5`); write 0.5%");
  // Every value with up to four decimals is exact: no double rounding anywhere.
  for (std::int64_t ppm = 0; ppm <= 1'000'000; ppm += 7) {
    const std::string text = format_ppm_percent(ppm);
    REQUIRE(*parse_percent_ppm(text).value == ppm);
  }
}

TEST_CASE("units: rates are exact ratios", "[scenario][units]") {
  CHECK(*parse_rate("1/s").value == Rate{1, Duration::seconds(1)});
  CHECK(*parse_rate("30/min").value == Rate{1, Duration::seconds(2)});
  CHECK(*parse_rate("0.5/s").value == Rate{1, Duration::seconds(2)});
  CHECK(*parse_rate("20/s").value == Rate{1, Duration::millis(50)});  // kept reduced
  CHECK(*parse_rate("2/h").value == Rate{1, Duration::seconds(1800)});
  CHECK(*parse_rate("0.5 /min").value == Rate{1, Duration::seconds(120)});
  CHECK(parse_rate("0/s").error ==
        "a rate must be greater than zero, got `0/s`; leave the key out for none");
  CHECK(parse_rate("1").error == "rate needs a unit: /s, /min or /h (got `1`)");
  CHECK(parse_rate("-1/s").error == "a rate cannot be negative, got `-1/s`");
  CHECK(parse_rate("1/fortnight").error ==
        "unknown rate unit `/fortnight` in `1/fortnight`; use /s, /min or /h");
  CHECK(parse_rate("often").error == "expected a rate such as 1/s or 30/min, got `often`");
  CHECK(parse_rate("30/min").value->mean_interval() == Duration::seconds(2));
  CHECK(parse_rate("6/s").value->mean_interval() == Duration::micros(166'667));  // rounded
  CHECK(parse_rate("7/s").value->mean_interval() == Duration::micros(142'857));
  CHECK(parse_rate("0.000000001/h").value->mean_interval() ==
        Duration::micros(3'600'000'000'000'000'000));
  CHECK(Rate{0, Duration::seconds(1)}.mean_interval() == Duration::max());
  CHECK(parse_rate("1/s").value->ppm_in(Duration::millis(50)) == 50'000);
  CHECK(parse_rate("1/min").value->ppm_in(Duration::millis(50)) == 833);
  CHECK(parse_rate("100/s").value->ppm_in(Duration::seconds(1)) == 1'000'000);  // capped
  CHECK(format_rate(*parse_rate("30/min").value) == "30/min");
  CHECK(format_rate(*parse_rate("2/s").value) == "2/s");
  CHECK(format_rate(*parse_rate("0.25/s").value) == "15/min");
  CHECK(format_rate(*parse_rate("2/h").value) == "2/h");
  CHECK(format_rate(*parse_rate("120/h").value) == "2/min");
}

TEST_CASE("units: values format back the way designers write them", "[scenario][units]") {
  CHECK(format_duration(Duration::seconds(120)) == "2min");
  CHECK(format_duration(Duration::seconds(90)) == "90s");
  CHECK(format_duration(Duration::millis(1500)) == "1.5s");
  CHECK(format_duration(Duration::millis(250)) == "250ms");
  CHECK(format_duration(Duration::micros(1500)) == "1.5ms");
  CHECK(format_duration(Duration::micros(100)) == "100us");
  CHECK(format_duration(Duration::zero()) == "0s");
  CHECK(format_duration(Duration::seconds(-5)) == "-5s");
  CHECK(format_distance_mm(4'000'000) == "4000m");
  CHECK(format_distance_mm(500) == "0.5m");
  CHECK(format_speed_mm_s(6'000) == "6m/s");
  CHECK(format_ppm_percent(500) == "0.05%");
}

// ---------------------------------------------------------------------------------------------
// Schema

TEST_CASE("schema.json lists exactly the registered metrics under expect", "[scenario][schema]") {
  // JSON is YAML, so yaml-cpp reads the schema.
  const YAML::Node schema = YAML::LoadFile(source_path("scenarios/schema.json"));
  const YAML::Node props = schema["properties"]["expect"]["properties"];
  REQUIRE(props.IsMap());
  std::set<std::string> in_schema;
  for (const auto& kv : props) in_schema.insert(kv.first.Scalar());
  std::set<std::string> registered;
  for (const auto& m : kMetrics) registered.insert(std::string{m.name});
  CHECK(in_schema == registered);
  CHECK(schema["additionalProperties"].Scalar() == "false");
  CHECK(schema["properties"]["expect"]["additionalProperties"].Scalar() == "false");
}

// The schema's pattern for a family of metrics: the one key of expect.patternProperties that
// starts with `start` (the two families: net.msg. and node.).
std::regex schema_pattern(std::string_view start) {
  const YAML::Node schema = YAML::LoadFile(source_path("scenarios/schema.json"));
  const YAML::Node patterns = schema["properties"]["expect"]["patternProperties"];
  REQUIRE(patterns.IsMap());
  REQUIRE(patterns.size() == 2);
  std::vector<std::string> found;
  for (const auto& kv : patterns)
    if (kv.first.Scalar().starts_with(start)) found.push_back(kv.first.Scalar());
  REQUIRE(found.size() == 1);
  return std::regex{found[0], std::regex::ECMAScript};
}

TEST_CASE("schema.json's pattern for messages by type matches exactly the known types",
          "[scenario][schema]") {
  const std::regex pattern = schema_pattern("^net\\.msg\\.");
  for (const auto& type : sim::message_type_names()) {
    for (const char* suffix : {".count", ".bytes"}) {
      const std::string name = "net.msg." + type + suffix;
      INFO(name);
      CHECK(std::regex_search(name, pattern));
    }
  }
  for (const char* name :
       {"net.msg.cluster.nonsense.count", "net.msg.cluster.ghosts", "net.msg.other",
        "net.msg.client.up.bits", "net.msg.cluster.ghosts.count.count", "xnet.msg.other.count",
        "net.msgxcluster.ghosts.count"}) {
    INFO(name);
    CHECK_FALSE(std::regex_search(name, pattern));
    CHECK_FALSE(find_metric(name).has_value());
  }
}

TEST_CASE("schema.json's pattern for per-node load matches every field of any node name",
          "[scenario][schema]") {
  const std::regex pattern = schema_pattern("^node\\.");
  for (const char* node : {"node-1", "node-12", "eu-west-a", "n"}) {
    for (const auto& field : kNodeFields) {
      const std::string name = fmt::format("node.{}.{}", node, field.name);
      INFO(name);
      CHECK(std::regex_search(name, pattern));
      CHECK(find_metric(name).has_value());
    }
  }
  // The registry's node.* metrics are properties, not the family.
  for (const char* name :
       {"node.load.max", "node.load.min", "node.load.imbalance.mean", "node.fences"}) {
    INFO(name);
    CHECK_FALSE(std::regex_search(name, pattern));
    CHECK(find_metric(name).has_value());
  }
  for (const char* name :
       {"node.node-1.load.max", "node.node-1.cells.peak", "node.Node-1.load.end",
        "node.1node.load.end", "node.node_1.load.end", "node.node-1.load.end.x", "node..load.end",
        "xnode.node-1.load.end", "node.node-1"}) {
    INFO(name);
    CHECK_FALSE(std::regex_search(name, pattern));
    CHECK_FALSE(find_metric(name).has_value());
  }
}

}  // namespace
}  // namespace shardsim::scenario
