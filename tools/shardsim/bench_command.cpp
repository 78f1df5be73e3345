#include "tools/shardsim/bench_command.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "tools/bench/kernel_bench.h"
#include "tools/shardsim/alloc_counter.h"
#include "tools/shardsim/atomic_file.h"
#include "tools/shardsim/bench_baseline.h"
#include "tools/shardsim/huge_pages.h"

namespace shardsim::tools {
namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool wants(const BenchOptions& o, const std::string& suite) {
  return o.suites.empty() || std::find(o.suites.begin(), o.suites.end(), suite) != o.suites.end();
}

std::optional<scenario::ScenarioSpec> load(const BenchOptions& o, const std::string& name) {
  auto r = scenario::load_file(o.scenario_dir + "/" + name);
  for (const auto& d : r.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
  if (!r.ok()) return std::nullopt;
  return std::move(*r.spec);
}

struct ScenarioBench {
  double wall_median;
  double speedup;
  sim::RunResult last;
};

ScenarioBench bench_scenario(const scenario::ScenarioSpec& spec, int repeats,
                             const sim::RunOptions& options) {
  std::vector<double> walls;
  sim::RunResult last;
  for (int i = 0; i < repeats; ++i) {
    last = sim::run_scenario(spec, options);
    walls.push_back(last.wall_seconds);
  }
  const double m = median(walls);
  return {m, last.sim_seconds / m, std::move(last)};
}

void bench_kernel(const BenchOptions& o) {
  fmt::print("== kernel hold model (median of {} repeats)\n", o.repeats);
  fmt::print("{:<18} {:>10} {:>14} {:>10}\n", "queue", "pending", "events/s", "vs std_pq");
  for (std::size_t pending : {std::size_t{1'000}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    const auto results = bench::run_hold_benchmark(pending, 5'000'000, o.repeats);
    double baseline = 0;
    for (const auto& r : results)
      if (r.queue == "std_pq_time_seq") baseline = r.events_per_sec;
    for (const auto& r : results)
      fmt::print("{:<18} {:>10} {:>12.2f} M {:>9.2f}x\n", r.queue, r.pending, r.events_per_sec / 1e6,
                 baseline > 0 ? r.events_per_sec / baseline : 0);
  }
}

void bench_run(const BenchOptions& o, const char* file,
               std::optional<Duration> duration = std::nullopt, bool checkers = true) {
  auto spec = load(o, file);
  if (!spec) return;
  if (duration) spec->duration = *duration;
  spec->expect.clear();
  sim::RunOptions options;
  options.checkers = checkers;
  if (!checkers) spec->name += " (no checkers)";
  reset_alloc_peak();
  const auto before = alloc_stats();
  const auto b = bench_scenario(*spec, o.repeats, options);
  const auto after = alloc_stats();
  const double entities = b.last.metric("entities.max");
  fmt::print("== {} ({} simulated s, median of {} runs)\n", spec->name, b.last.sim_seconds,
             o.repeats);
  fmt::print("wall {:.3f} s   speed {:.1f}x real time   events {}   events/s {:.2f} M\n",
             b.wall_median, b.speedup, b.last.events,
             static_cast<double>(b.last.events) / b.wall_median / 1e6);
  fmt::print("entities.max {}   peak heap {:.1f} MiB   heap per entity {:.0f} B   digest {}\n",
             entities, static_cast<double>(after.peak_bytes - before.live_bytes) / (1 << 20),
             entities > 0 ? static_cast<double>(after.peak_bytes - before.live_bytes) / entities : 0,
             b.last.digest_hex());
  // Deterministic: the same run allocates the same number of times.
  const double allocations = static_cast<double>(after.allocations - before.allocations) / o.repeats;
  fmt::print("heap allocations per run {:.0f}   per event {:.4f}\n", allocations,
             allocations / static_cast<double>(b.last.events));
}

void bench_digest(const BenchOptions& o) {
  auto spec = load(o, "quickstart.yaml");
  if (!spec) return;
  sim::RunOptions off;
  off.hashing = false;
  std::vector<double> with;
  std::vector<double> without;
  for (int i = 0; i < o.repeats; ++i) {  // interleaved so machine noise hits both alike
    with.push_back(sim::run_scenario(*spec, {}).wall_seconds);
    without.push_back(sim::run_scenario(*spec, off).wall_seconds);
  }
  const double w = median(with);
  const double wo = median(without);
  fmt::print("== digest overhead on quickstart (median of {} interleaved pairs)\n", o.repeats);
  fmt::print("with digest {:.3f} s   without {:.3f} s   overhead {:+.1f}%\n", w, wo,
             (w / wo - 1) * 100);
}

void bench_checkers(const BenchOptions& o) {
  auto spec = load(o, "quickstart.yaml");
  if (!spec) return;
  sim::RunOptions off;
  off.checkers = false;
  std::vector<double> with;
  std::vector<double> without;
  for (int i = 0; i < o.repeats; ++i) {
    with.push_back(sim::run_scenario(*spec, {}).wall_seconds);
    without.push_back(sim::run_scenario(*spec, off).wall_seconds);
  }
  fmt::print("== checker cost on quickstart (median of {} interleaved pairs)\n", o.repeats);
  fmt::print("with checkers {:.3f} s   without {:.3f} s   checkers {:+.1f}%\n", median(with),
             median(without), (median(with) / median(without) - 1) * 100);
}

}  // namespace

void add_bench_options(CLI::App& app, BenchOptions& options) {
  app.add_option("--suite", options.suites,
                 "kernel | quickstart | entities | cluster | digest | checkers (repeatable; default all)")
      ->check(CLI::IsMember({"kernel", "quickstart", "entities", "cluster", "digest", "checkers"}));
  app.add_option("--repeats", options.repeats, "Repeats per measurement (median reported)")
      ->check(CLI::Range(1, 100));
  app.add_option("--scenarios", options.scenario_dir, "Directory holding the shipped scenarios");
  app.add_option("--baseline", options.baseline,
                 "Compare the regression cases with this baseline; exit 1 if any figure got "
                 ">= 20% worse (work counters exactly, time as a ratio to a calibration loop)");
  app.add_option("--save-baseline", options.save_baseline,
                 "Measure the regression cases and write them to this file as the new baseline");
  app.add_option("--debug-slowdown", options.debug_slowdown,
                 "Debug knob: make every timed regression run this many percent slower")
      ->check(CLI::Range(0, 1000))
      ->group("");  // hidden: it exists to prove the detector catches a real slowdown
  app.footer(
      "Examples:\n  shardsim bench\n  shardsim bench --suite kernel --repeats 3\n"
      "  shardsim bench --baseline tools/bench/baseline.json\n"
      "  shardsim bench --save-baseline tools/bench/baseline.json --repeats 7");
}

namespace {

int run_regression(const BenchOptions& o) {
  std::vector<CaseFigures> baseline;
  if (!o.baseline.empty()) {
    std::ifstream in{o.baseline, std::ios::binary};
    if (!in) {
      fmt::print(stderr, "error: cannot read baseline {}\n", o.baseline);
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string error;
    if (!parse_baseline(text.str(), baseline, error)) {
      fmt::print(stderr, "error: {}: {}\n", o.baseline, error);
      return 2;
    }
    // A baseline that lacks a case (or has an unknown one) would compare nothing and pass.
    std::vector<std::string> have;
    for (const auto& c : baseline) have.push_back(c.name);
    auto want = regression_case_names();
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    if (have != want) {
      fmt::print(stderr,
                 "error: {}: holds cases [{}], this build measures [{}]; refresh it with "
                 "`make bench-baseline`\n",
                 o.baseline, fmt::join(have, ", "), fmt::join(want, ", "));
      return 2;
    }
  }
  if (o.debug_slowdown > 0) fmt::print("debug: every timed run made {}% slower\n", o.debug_slowdown);
  const auto now = measure_regression_cases(o, o.debug_slowdown);
  if (now.empty()) return 2;
  if (!o.save_baseline.empty()) {
    AtomicFile out;
    std::string error;
    if (!out.open(o.save_baseline, error)) {
      fmt::print(stderr, "error: {}\n", error);
      return 2;
    }
    std::string json = baseline_json(now, o.repeats);
    json.pop_back();  // write_line adds the newline
    out.write_line(json);
    if (!out.commit(error)) {
      fmt::print(stderr, "error: {}\n", error);
      return 2;
    }
    fmt::print("wrote baseline {}\n", o.save_baseline);
  }
  if (o.baseline.empty()) return 0;
  const auto remeasure = [&](const std::string& name) {
    return remeasure_time_ratio(name, o, o.debug_slowdown);
  };
  return compare_to_baseline(baseline, now, remeasure) > 0 ? 1 : 0;
}

}  // namespace

int run_bench(const BenchOptions& o) {
  fmt::print("heap: {}\n", huge_page_heap() ? "2 MiB pages (transparent huge pages, ADR 0006)"
                                              : "4 KiB pages (huge pages off or unavailable)");
  if (!o.baseline.empty() || !o.save_baseline.empty()) return run_regression(o);
  if (wants(o, "kernel")) bench_kernel(o);
  if (wants(o, "quickstart")) bench_run(o, "quickstart.yaml");
  if (wants(o, "entities")) bench_run(o, "entities_10k.yaml");
  if (wants(o, "cluster")) {
    // The acceptance scenario (1000 players, 4 nodes), its first simulated minute, with and
    // without the checkers.
    bench_run(o, "cross_node.yaml", Duration::seconds(60));
    bench_run(o, "cross_node.yaml", Duration::seconds(60), false);
  }
  if (wants(o, "digest")) bench_digest(o);
  if (wants(o, "checkers")) bench_checkers(o);
  return 0;
}

}  // namespace shardsim::tools
