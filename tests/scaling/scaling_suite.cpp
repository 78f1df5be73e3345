// The seed issue's stress and scaling suite (`make test-scaling`): Catch2 benchmarks that measure,
// and tests that assert only deterministic figures — heap bytes (counted by this binary's operator
// new), kernel events and AOI bytes per simulated tick — against budgets committed here. Wall time is
// measured by the BENCHMARKs and never asserted: these machines are shared and noisy.
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstdlib>
#include <malloc.h>
#include <new>
#include <string>

#include "engine/core/rng.h"
#include "engine/world/aoi_index.h"
#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"

// Heap accounting: every allocation of this binary, by malloc_usable_size (deterministic). Off
// under the sanitizers, which own operator new.
#ifndef SHARDSIM_SANITIZE_BUILD
namespace {
std::int64_t g_live = 0;
std::int64_t g_peak = 0;
bool g_counting = false;
void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc{};
  if (g_counting) {
    g_live += static_cast<std::int64_t>(malloc_usable_size(p));
    if (g_live > g_peak) g_peak = g_live;
  }
  return p;
}
void counted_free(void* p) {
  if (p == nullptr) return;
  if (g_counting) g_live -= static_cast<std::int64_t>(malloc_usable_size(p));
  std::free(p);
}
}  // namespace
void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
#endif

namespace {

using shardsim::Duration;
using shardsim::scenario::ScenarioSpec;
using shardsim::sim::RunOptions;
using shardsim::sim::RunResult;

ScenarioSpec shipped(const std::string& name, Duration duration) {
  auto r = shardsim::scenario::load_file(std::string{SHARDSIM_SOURCE_DIR} + "/scenarios/" + name);
  REQUIRE(r.ok());
  ScenarioSpec spec = *r.spec;
  spec.duration = duration;
  spec.expect.clear();
  return spec;
}

RunResult run(const ScenarioSpec& spec) {
  const RunResult r = shardsim::sim::run_scenario(spec, RunOptions{});
  INFO("replay: " << r.replay_command());
  CHECK(r.violation_count == 0);
  return r;
}

double ticks(const ScenarioSpec& spec) { return static_cast<double>(spec.duration / spec.tick); }

}  // namespace

// --- benchmarks (measured, reported by Catch2, never asserted) ---

TEST_CASE("BenchmarkSimulationWith1000Players", "[scaling][benchmark]") {
  const ScenarioSpec phase_a = shipped("quickstart.yaml", Duration::seconds(10));
  const ScenarioSpec phase_b = shipped("cross_node.yaml", Duration::seconds(10));
  BENCHMARK("1000 players, 1 node, 10 simulated s") { return shardsim::sim::run_scenario(phase_a, {}).digest; };
  BENCHMARK("1000 players, 4 nodes + gateway + store + directory, 10 simulated s") {
    return shardsim::sim::run_scenario(phase_b, {}).digest;
  };
}

TEST_CASE("BenchmarkAOIQueriesUnderLoad", "[scaling][benchmark]") {
  // One cell's index under load: 10,000 entities in a 500 m cell (plus margin), 100 m queries.
  const shardsim::Rect bounds{{-200'000, -200'000}, {700'000, 700'000}};
  shardsim::AoiIndex index{bounds, 110'000};
  shardsim::Rng rng = shardsim::Rng::stream(1, "scaling.aoi");
  std::vector<shardsim::Vec2> centers;
  for (std::uint64_t i = 1; i <= 10'000; ++i) {
    const shardsim::Vec2 p{rng.between(0, 499'999), rng.between(0, 499'999)};
    index.add({shardsim::EntityId{i}, p, shardsim::wire::EntityKind::player});
    if (i % 10 == 0) centers.push_back(p);
  }
  index.build();
  std::vector<shardsim::AoiEntry> out;
  BENCHMARK("rebuild 10k entries") {
    index.build();
    return index.size();
  };
  BENCHMARK("1000 queries of 110 m among 10k entries") {
    std::size_t n = 0;
    for (const auto& c : centers) {
      out.clear();
      index.query(c, 110'000, out);
      n += out.size();
    }
    return n;
  };
}

TEST_CASE("BenchmarkHandoverThroughput", "[scaling][benchmark]") {
  // Border-oscillating players over a lossy, duplicating network: cross-node handovers per second
  // of wall time = handover.cross_node.count / the mean this benchmark reports.
  const ScenarioSpec spec = shipped("handover_consistency.yaml", Duration::seconds(20));
  const RunResult once = run(spec);
  INFO("cross-node handovers in 20 simulated s: " << once.metric("handover.cross_node.count"));
  // Players first walk to a border, so the first 20 s hold fewer handovers than the later ones (86
  // for seed 1, before and after tunnel bundling); the check keeps the benchmark honest: it must
  // measure real cross-node handovers.
  CHECK(once.metric("handover.cross_node.count") > 60);
  BENCHMARK("600 border-crossing players, 20 simulated s") {
    return shardsim::sim::run_scenario(spec, {}).metric("handover.cross_node.count");
  };
}

// --- deterministic budgets (asserted) ---

TEST_CASE("TestMemoryUsageUnder10000Entities", "[scaling]") {
#ifdef SHARDSIM_SANITIZE_BUILD
  WARN("heap accounting is off under the sanitizers: nothing measured");
#else
  const ScenarioSpec spec = shipped("entities_10k.yaml", Duration::seconds(10));
  g_live = 0;
  g_peak = 0;
  g_counting = true;
  const RunResult r = run(spec);
  g_counting = false;
  const double entities = r.metric("entities.max");
  const double per_entity = static_cast<double>(g_peak) / entities;
  INFO("entities " << entities << ", peak heap " << g_peak << " B, per entity " << per_entity << " B");
  REQUIRE(entities >= 9'000);
  // Budget: 1,367 B/entity measured when this was committed; more than +20 % fails.
  CHECK(per_entity < 1'640);
#endif
}

TEST_CASE("TestTickLatencyUnderMaxLoad", "[scaling]") {
  // Simulated tick cost, in deterministic work: kernel events per simulated tick at the densest
  // shipped load (2000 players converging where four cells of different nodes meet).
  const ScenarioSpec spec = shipped("high_load.yaml", Duration::seconds(20));
  const RunResult r = run(spec);
  const double per_tick = r.metric("events") / ticks(spec);
  const double per_player_tick = per_tick / spec.players.count;
  INFO("events per tick " << per_tick << ", per player-tick " << per_player_tick);
  // Budget: 3.43 events per player-tick measured when committed (AOI frame out through the
  // gateway, client ack back, ghosts, store writes); more than +20 % fails.
  CHECK(per_player_tick < 4.1);
  CHECK(r.metric("handover.cross_node.latency.p99") < 500);
}

TEST_CASE("TestSnapshotPayloadSizeRegression", "[scaling]") {
  // AOI bytes per client per tick over 30 simulated s, against committed budgets: the values
  // measured when committed (22.25, 22.86, 78.09) + 10 %.
  struct Budget {
    const char* file;
    double budget;
  };
  for (const Budget b : {Budget{"quickstart.yaml", 24.5}, Budget{"cross_node.yaml", 25.2},
                         Budget{"flash_crowd.yaml", 86.0}}) {
    const ScenarioSpec spec = shipped(b.file, Duration::seconds(30));
    const RunResult r = run(spec);
    const double bytes = r.metric("aoi.bytes_per_client_tick");
    INFO(b.file << ": " << bytes << " B per client per tick");
    CHECK(bytes > 0);
    CHECK(bytes < b.budget);
  }
}
