// Scenario writer tests: writing a spec and loading the text back gives the same spec, field by
// field, for every shipped scenario and for a spec that uses every unusual corner of the format
// (listed node names YAML could misread, a hotspot, every latency form and fault kind, chaos,
// fractional values, text that needs quoting); and rate_text() is exact.
#include "sim/scenario/writer.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/scenario/loader.h"
#include "sim/scenario/units.h"

#ifndef SHARDSIM_SOURCE_DIR
#error "define SHARDSIM_SOURCE_DIR (the source tree root) for this test"
#endif

namespace shardsim::scenario {
namespace {

namespace fs = std::filesystem;

// The fields that differ between two specs (not `file` and source locations, which say where a
// spec was read from, not what it is).
std::vector<std::string> differences(const ScenarioSpec& a, const ScenarioSpec& b) {
  std::vector<std::string> out;
  const auto same = [&out](bool equal, const char* what) {
    if (!equal) out.emplace_back(what);
  };
  same(a.name == b.name && a.description == b.description && a.seed == b.seed, "header");
  same(a.duration == b.duration && a.tick == b.tick, "timing");
  const WorldSpec& w = a.world;
  const WorldSpec& v = b.world;
  same(w.width_mm == v.width_mm && w.height_mm == v.height_mm && w.cells_x == v.cells_x &&
           w.cells_y == v.cells_y && w.aoi_radius_mm == v.aoi_radius_mm &&
           w.hysteresis_mm == v.hysteresis_mm && w.handover_dwell == v.handover_dwell,
       "world");
  same(a.node_names == b.node_names, "nodes");
  const ClusterSpec& c = a.cluster;
  const ClusterSpec& d = b.cluster;
  same(c.gateways == d.gateways && c.assignment == d.assignment && c.cross_node == d.cross_node &&
           c.lease == d.lease && c.heartbeat == d.heartbeat && c.checkpoint == d.checkpoint &&
           c.clock_drift_max == d.clock_drift_max,
       "cluster");
  const PlayersSpec& p = a.players;
  const PlayersSpec& q = b.players;
  same(p.count == q.count && p.movement == q.movement && p.speed_min_mm_s == q.speed_min_mm_s &&
           p.speed_max_mm_s == q.speed_max_mm_s && p.action_every == q.action_every,
       "players");
  same(p.hotspot.enabled == q.hotspot.enabled && p.hotspot.center == q.hotspot.center &&
           p.hotspot.radius_mm == q.hotspot.radius_mm &&
           p.hotspot.fraction_ppm == q.hotspot.fraction_ppm,
       "players.spawn");
  same(a.bots.density_min == b.bots.density_min && a.bots.density_max == b.bots.density_max &&
           a.bots.speed_min_mm_s == b.bots.speed_min_mm_s &&
           a.bots.speed_max_mm_s == b.bots.speed_max_mm_s,
       "bots");
  same(a.network == b.network, "network");
  same(a.faults.size() == b.faults.size(), "faults (count)");
  for (std::size_t i = 0; i < std::min(a.faults.size(), b.faults.size()); ++i) {
    const FaultSpec& f = a.faults[i];
    const FaultSpec& g = b.faults[i];
    same(f.kind == g.kind && f.at == g.at && f.duration == g.duration && f.groups == g.groups &&
             f.host == g.host && f.peer == g.peer && f.restart_after == g.restart_after &&
             f.jump == g.jump && f.has_latency == g.has_latency && f.latency == g.latency &&
             f.has_loss == g.has_loss && f.loss_ppm == g.loss_ppm,
         "a fault");
  }
  const auto same_kind = [](const ChaosKind& k, const ChaosKind& l) {
    return k.mean_interval == l.mean_interval && k.min == l.min && k.max == l.max;
  };
  same(a.chaos.until == b.chaos.until && same_kind(a.chaos.crash, b.chaos.crash) &&
           same_kind(a.chaos.partition, b.chaos.partition) &&
           same_kind(a.chaos.pause, b.chaos.pause),
       "chaos");
  same(a.bugs == b.bugs, "bugs");
  same(a.expect.size() == b.expect.size(), "expect (count)");
  for (std::size_t i = 0; i < std::min(a.expect.size(), b.expect.size()); ++i) {
    const Expectation& e = a.expect[i];
    const Expectation& f = b.expect[i];
    same(e.metric == f.metric && e.op == f.op && e.value == f.value && e.text == f.text,
         "an expectation");
  }
  return out;
}

WriteOptions with_header() {
  WriteOptions options;
  options.header = {"a header line", ""};
  return options;
}

// Writes `spec`, loads the text, and checks the two agree; then that writing again is a fixpoint.
void check_round_trip(const ScenarioSpec& spec) {
  const std::string text = write_scenario(spec, with_header());
  INFO(text);
  const LoadResult back = load_string(text, "written.yaml");
  std::string errors;
  for (const auto& d : back.errors) errors += d.format() + "\n";
  INFO(errors);
  REQUIRE(back.ok());
  CHECK(differences(spec, *back.spec).empty());
  for (const auto& d : differences(spec, *back.spec)) UNSCOPED_INFO("differs: " << d);
  CHECK(write_scenario(*back.spec, with_header()) == text);
}

TEST_CASE("writer: every shipped scenario reads back as the same spec", "[scenario][writer]") {
  int count = 0;
  for (const auto& file : fs::directory_iterator{std::string{SHARDSIM_SOURCE_DIR} + "/scenarios"}) {
    if (file.path().extension() != ".yaml") continue;
    ++count;
    INFO(file.path().string());
    const LoadResult r = load_file(file.path().string());
    REQUIRE(r.ok());
    check_round_trip(*r.spec);
  }
  CHECK(count >= 4);
}

TEST_CASE("writer: the format's corners read back as the same spec", "[scenario][writer]") {
  constexpr std::string_view kCorners = R"(name: "1.5"
description: "quotes \" and \\ and a\nnewline: # not a comment"
seed: 18446744073709551615
duration: 1.000001s
tick: 1ms
world: {size: [1000.5m, 999mm], cells: [1, 1], aoi_radius: 0.2m, hysteresis: 0m,
        handover_dwell: 0s}
cluster: {nodes: ["yes", "no", null-node, n], gateways: 3, assignment: least-loaded, lease: 1.5s,
          heartbeat: 250us, checkpoint: 7ms, clock_drift_max: 0s, cross_node: false}
players: {count: 7, spawn: {hotspot: {center: [0.001m, 0m], radius: 1mm, fraction: 0.0001%}},
          movement: hotspot, speed: [0m/s, 0.001m/s], actions: 6/s}
bots: {density: [0, 0], speed: [1mm/s, 100m/s]}
network: {latency: {distribution: normal, mean: 3ms, stddev: 1us}, loss: 100%, duplicate: 0.05%,
          reorder: 1%}
faults:
  - {at: 0s, partition: [[yes, store], [directory, gateway-3], [n]], for: 1us}
  - {at: 1us, partition_oneway: {from: gateway-1, to: "no"}}
  - {at: 2ms, crash: null-node, restart_after: 0.5s}
  - {at: 3ms, crash: store}
  - {at: 4ms, pause: gateway-2, for: 1min}
  - {at: 5ms, drain: "no"}
  - {at: 6ms, clock_jump: {node: n, by: -1.25s}}
  - {at: 7ms, isolate: directory}
  - {at: 8ms, link: {between: [yes, n], latency: {distribution: uniform, min: 0s, max: 5ms}}}
  - {at: 9ms, link: {between: [n, store], loss: 12.5%}, for: 2s}
  - {at: 10ms, link: {between: [n, "no"], latency: 2ms, loss: 0%}}
  - {at: 11ms, link: {between: [gateway-1, "yes"], latency: {distribution: lognormal, median: 1us, p99: 10s}}}
chaos:
  until: 1s
  crash: {rate: 7/min, restart_after: [0s, 1us]}
  pause: {rate: 0.3/s, for: [1ms, 1min]}
bugs: [unfenced_abort, skip_lease_check, ack_before_durable]
expect:
  client.view_lag.max: "<= 1.5s"
  handover.failure_rate: "< 0.5%"
  players.lost: "== 0"
)";
  const LoadResult r = load_string(kCorners, "corners.yaml");
  std::string errors;
  for (const auto& d : r.errors) errors += d.format() + "\n";
  INFO(errors);
  REQUIRE(r.ok());
  check_round_trip(*r.spec);

  SECTION("an empty description, no faults, no chaos, one numbered node") {
    ScenarioSpec s = *r.spec;
    s.description.clear();
    s.faults.clear();
    s.chaos = ChaosSpec{};
    s.node_names = {"node-1"};
    s.cluster.gateways = 0;
    check_round_trip(s);
  }
}

TEST_CASE("writer: a faults block given in place of spec.faults", "[scenario][writer]") {
  const LoadResult r = load_file(std::string{SHARDSIM_SOURCE_DIR} + "/scenarios/quickstart.yaml");
  REQUIRE(r.ok());
  WriteOptions options;
  options.faults_yaml = "faults:\n  - at: 1s\n    pause: node-1\n    for: 2s";
  const std::string text = write_scenario(*r.spec, options);
  CHECK(text.find("faults:\n  - at: 1s\n    pause: node-1\n    for: 2s\n") != std::string::npos);
  const LoadResult back = load_string(text, "written.yaml");
  REQUIRE(back.ok());
  REQUIRE(back.spec->faults.size() == 1);
  CHECK(back.spec->faults[0].kind == FaultKind::pause);
}

TEST_CASE("writer: rate_text reads back as exactly its interval", "[scenario][writer]") {
  CHECK(rate_text(Duration::seconds(1)) == "1/s");
  CHECK(rate_text(Duration::seconds(2)) == "30/min");
  CHECK(rate_text(Duration::micros(166'667)) == "6/s");
  CHECK(rate_text(Duration::seconds(180)) == "20/h");
  // Every interval up to half an hour, sampled; and every interval a rate text can give.
  std::vector<Duration> intervals;
  for (std::int64_t us = 1; us <= 1'800'000'000; us = us * 3 + 7)
    intervals.push_back(Duration::micros(us));
  for (std::int64_t us = 999'990; us <= 1'000'010; ++us) intervals.push_back(Duration::micros(us));
  for (const char* unit : {"/s", "/min", "/h"}) {
    for (const char* number : {"1", "7", "0.3", "123456.789", "0.000000001", "0.000000007",
                               "0.123456789", "999999", "3.000000001", "1000000"}) {
      const auto rate = parse_rate(std::string{number} + unit);
      REQUIRE(rate.ok());
      intervals.push_back(rate.value->mean_interval());
    }
  }
  for (const Duration every : intervals) {
    const std::string text = rate_text(every);
    INFO(every.us() << "us -> " << text);
    const auto parsed = parse_rate(text);
    REQUIRE(parsed.ok());
    CHECK(parsed.value->mean_interval() == every);
  }
}

}  // namespace
}  // namespace shardsim::scenario
