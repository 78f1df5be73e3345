#include "tools/shardsim/bench_baseline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <span>

#include <fmt/format.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "engine/core/rng.h"
#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "tools/shardsim/alloc_counter.h"
#include "tools/shardsim/bench_command.h"
#include "tools/shardsim/json_value.h"

namespace shardsim::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Where the calibration and spin loops leave their results, so the compiler keeps the work.
volatile std::uint64_t g_sink;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: time the hypervisor or the kernel gave to someone else is not in it
// (wall time on a shared VM includes other tenants' turns).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The calibration workload, the same instructions and memory traffic every time (~40 ms here), so
// only the machine's speed varies: fill 2^18 words from a seeded generator, sort and fold them
// (branchy compute), then 2^21 dependent random reads over a 16 MiB table (cache and memory
// latency: a simulation's heap is several MiB of scattered objects, and a neighbour thrashing the
// shared cache slows it far more than it slows a sort that fits in L2).
//
// Its memory is on 4 KiB pages whatever the heap is on (ADR 0006 puts the heap on 2 MiB pages,
// which made this workload ~20 % faster, 56 -> 44 ms, and every time ratio look that much worse):
// the calibration measures the machine, the runs measure the code, and a baseline saved before
// that change stays comparable.
struct CalibrationMemory {
  std::span<std::uint64_t> words;
  std::span<std::uint32_t> table;
};

CalibrationMemory calibration_memory() {
  constexpr std::size_t kWords = std::size_t{1} << 18;
  constexpr std::size_t kTable = std::size_t{1} << 22;
  constexpr std::size_t kBytes = kWords * sizeof(std::uint64_t) + kTable * sizeof(std::uint32_t);
  static const CalibrationMemory memory = [] {
    void* m = nullptr;
#ifdef __linux__
    m = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      m = nullptr;
    } else {
      madvise(m, kBytes, MADV_NOHUGEPAGE);  // never unmapped: it lives as long as the process
    }
#endif
    if (m == nullptr) m = ::operator new(kBytes);
    auto* const words = static_cast<std::uint64_t*>(m);
    auto* const table = reinterpret_cast<std::uint32_t*>(words + kWords);
    Rng rng{0x7ab1e};
    for (std::size_t i = 0; i < kTable; ++i) table[i] = static_cast<std::uint32_t>(rng.below(kTable));
    return CalibrationMemory{{words, kWords}, {table, kTable}};
  }();
  return memory;
}

double calibrate() {
  const auto [words, table] = calibration_memory();
  const double t0 = thread_cpu_seconds();
  Rng rng{0x5eed};
  for (auto& w : words) w = rng.next_u64();
  std::sort(words.begin(), words.end());
  std::uint64_t fold = 0;
  for (const auto w : words) fold = (fold ^ w) * 0x9E3779B97F4A7C15ULL;
  std::uint32_t at = 1;
  for (int i = 0; i < (1 << 21); ++i) at = table[at ^ (static_cast<std::uint32_t>(i) & 0xff)];
  g_sink = fold + at;
  return thread_cpu_seconds() - t0;
}

struct Case {
  const char* name;
  const char* file;
  std::optional<Duration> duration;
};

constexpr Case kCases[] = {
    {"quickstart", "quickstart.yaml", std::nullopt},
    {"cross_node_30s", "cross_node.yaml", Duration::seconds(30)},
};

const char* const kCounterNames[] = {"events",    "trace_records", "net.messages",
                                     "net.bytes", "allocations",   "peak_heap_bytes"};

}  // namespace

namespace {

std::optional<CaseFigures> measure_case(const Case& c, const BenchOptions& o,
                                        int slowdown_percent) {
  auto loaded = scenario::load_file(o.scenario_dir + "/" + c.file);
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
  if (!loaded.ok()) return std::nullopt;
  scenario::ScenarioSpec spec = std::move(*loaded.spec);
  if (c.duration) spec.duration = *c.duration;
  spec.expect.clear();
  CaseFigures f;
  f.name = c.name;
  std::vector<double> ratios;
  std::vector<double> walls;
  std::vector<double> calibrations;
  // The slowdown knob adds `slowdown_percent` more of the same work inside the timed region: the
  // scenario again for that fraction of its duration (same code, same memory behaviour, so the
  // machine's noise hits it exactly as it hits the run).
  scenario::ScenarioSpec extra = spec;
  extra.duration = Duration::micros(spec.duration.us() * slowdown_percent / 100);
  (void)sim::run_scenario(spec, {});  // warm-up, not timed: first-touch page faults, caches
  for (int i = 0; i < o.repeats; ++i) {
    const double cal_before = calibrate();
    reset_alloc_peak();
    const AllocStats before = alloc_stats();
    const auto t0 = Clock::now();
    const double cpu0 = thread_cpu_seconds();
    const sim::RunResult r = sim::run_scenario(spec, {});
    const AllocStats after = alloc_stats();  // the run's own counters, before any slowdown work
    if (slowdown_percent > 0) (void)sim::run_scenario(extra, {});
    const double cpu = thread_cpu_seconds() - cpu0;
    const double wall = seconds_since(t0);
    // The machine's speed on both sides of the run.
    const double cal = (cal_before + calibrate()) / 2;
    calibrations.push_back(cal);
    walls.push_back(wall);
    ratios.push_back(cpu / cal);
    // Counters: the same every repeat (the last one is kept; a difference would be a bug in
    // determinism, which the digest shows).
    f.digest = r.digest_hex();
    f.counters = {
        {"events", static_cast<double>(r.events)},
        {"trace_records", static_cast<double>(r.trace_records)},
        {"net.messages", r.metric("net.messages")},
        {"net.bytes", r.metric("net.bytes")},
        {"allocations", static_cast<double>(after.allocations - before.allocations)},
        {"peak_heap_bytes", static_cast<double>(after.peak_bytes - before.live_bytes)},
    };
  }
  f.time_ratio = median(ratios);
  f.wall_median = median(walls);
  f.calibration_median = median(calibrations);
  fmt::print("measured {:<16} wall {:.3f} s  calibration {:.1f} ms  ratio {:.2f}  ({} repeats)\n",
             f.name, f.wall_median, f.calibration_median * 1000, f.time_ratio, o.repeats);
  std::fflush(stdout);
  return f;
}

}  // namespace

std::vector<std::string> regression_case_names() {
  std::vector<std::string> names;
  for (const Case& c : kCases) names.emplace_back(c.name);
  return names;
}

std::vector<CaseFigures> measure_regression_cases(const BenchOptions& o, int slowdown_percent) {
  std::vector<CaseFigures> out;
  for (const Case& c : kCases) {
    auto f = measure_case(c, o, slowdown_percent);
    if (!f) return {};
    out.push_back(std::move(*f));
  }
  return out;
}

std::optional<double> remeasure_time_ratio(const std::string& name, const BenchOptions& o,
                                           int slowdown_percent) {
  for (const Case& c : kCases)
    if (name == c.name)
      if (auto f = measure_case(c, o, slowdown_percent)) return f->time_ratio;
  return std::nullopt;
}

std::string baseline_json(const std::vector<CaseFigures>& cases, int repeats) {
  std::string out = fmt::format(
      "{{\n  \"format\": \"shardsim-bench-baseline-1\",\n  \"repeats\": {},\n  \"cases\": {{", repeats);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const CaseFigures& c = cases[i];
    out += fmt::format("{}\n    \"{}\": {{\n      \"digest\": \"{}\",\n", i == 0 ? "" : ",", c.name,
                       c.digest);
    for (const auto& [name, value] : c.counters)
      out += fmt::format("      \"{}\": {:.0f},\n", name, value);
    out += fmt::format("      \"time_ratio\": {:.4f},\n      \"wall_median_s\": {:.4f},\n"
                       "      \"calibration_median_s\": {:.6f}\n    }}",
                       c.time_ratio, c.wall_median, c.calibration_median);
  }
  out += "\n  }\n}\n";
  return out;
}

bool parse_baseline(const std::string& text, std::vector<CaseFigures>& out, std::string& error) {
  const JsonParseResult parsed = parse_json(text);
  if (!parsed.value) {
    error = "not JSON: " + parsed.error;
    return false;
  }
  const JsonValue& root = *parsed.value;
  const JsonValue* format = root.is_object() ? root.find("format") : nullptr;
  if (format == nullptr || !format->is_string() || format->string() != "shardsim-bench-baseline-1") {
    error = "not a shardsim bench baseline (expected \"format\": \"shardsim-bench-baseline-1\")";
    return false;
  }
  const JsonValue* cases = root.find("cases");
  if (cases == nullptr || !cases->is_object()) {
    error = "\"cases\" must be an object";
    return false;
  }
  for (const auto& member : cases->members()) {
    const std::string& name = member.first;
    const JsonValue& v = member.second;
    CaseFigures c;
    c.name = name;
    const auto number = [&](const char* key, double& to) {
      const JsonValue* x = v.is_object() ? v.find(key) : nullptr;
      if (x == nullptr || !x->is_number() || !std::isfinite(x->number()) || x->number() < 0) {
        error = fmt::format("case \"{}\": \"{}\" must be a number >= 0", name, key);
        return false;
      }
      to = x->number();
      return true;
    };
    for (const char* counter : kCounterNames) {
      double value = 0;
      if (!number(counter, value)) return false;
      c.counters.emplace_back(counter, value);
    }
    if (!number("time_ratio", c.time_ratio) || !number("wall_median_s", c.wall_median) ||
        !number("calibration_median_s", c.calibration_median))
      return false;
    if (c.time_ratio <= 0) {
      error = fmt::format("case \"{}\": \"time_ratio\" must be greater than 0", name);
      return false;
    }
    if (const JsonValue* d = v.find("digest"); d != nullptr && d->is_string()) c.digest = d->string();
    out.push_back(std::move(c));
  }
  return true;
}

int compare_to_baseline(const std::vector<CaseFigures>& baseline,
                        const std::vector<CaseFigures>& now,
                        const std::function<std::optional<double>(const std::string&)>& remeasure) {
  int regressions = 0;
  fmt::print("\n{:<16} {:<24} {:>16} {:>16} {:>9}  {}\n", "case", "figure", "baseline", "now",
             "change", "verdict");
  const auto row = [&](const std::string& c, const std::string& figure, double base, double cur,
                       bool exact) {
    const double change = base > 0 ? cur / base - 1 : (cur > 0 ? 1.0 : 0.0);
    std::string verdict = "ok";
    if (change >= kRegressionThreshold) {
      verdict = "REGRESSION";
      ++regressions;
    } else if (exact && cur != base) {
      verdict = change < 0 ? "changed (less)" : "changed (more)";
    } else if (change <= -kRegressionThreshold) {
      verdict = "better";
    }
    const auto num = [&](double x) {
      return x >= 1000 ? fmt::format("{:.0f}", x) : fmt::format("{:.3f}", x);
    };
    fmt::print("{:<16} {:<24} {:>16} {:>16} {:>+8.1f}%  {}\n", c, figure, num(base), num(cur),
               change * 100, verdict);
  };
  for (const CaseFigures& n : now) {
    const auto b = std::find_if(baseline.begin(), baseline.end(),
                                [&](const CaseFigures& x) { return x.name == n.name; });
    if (b == baseline.end()) {
      fmt::print("{:<16} (not in the baseline: nothing to compare)\n", n.name);
      continue;
    }
    for (const auto& counter : n.counters) {
      const auto bc = std::find_if(b->counters.begin(), b->counters.end(),
                                   [&](const auto& x) { return x.first == counter.first; });
      // The peak heap moves by a few hundred bytes between runs (allocator slack), so it is held to
      // the threshold only; every other counter is exact.
      const bool exact = counter.first != "peak_heap_bytes";
      if (bc != b->counters.end()) row(n.name, counter.first, bc->second, counter.second, exact);
    }
    // A time alarm must survive re-measurement: noise from a neighbour comes and goes, a real
    // slowdown stays. Up to kConfirmations more measurements; the alarm stands only if every one
    // of them is over the threshold too, and the lowest is reported.
    double ratio = n.time_ratio;
    for (int k = 0; k < kConfirmations && remeasure && ratio / b->time_ratio - 1 >= kRegressionThreshold; ++k) {
      fmt::print("{:<16} time / calibration {:+.1f}% worse: measuring again ({} of {})\n", n.name,
                 (ratio / b->time_ratio - 1) * 100, k + 1, kConfirmations);
      std::fflush(stdout);
      if (const auto again = remeasure(n.name)) ratio = std::min(ratio, *again);
    }
    row(n.name, "time / calibration", b->time_ratio, ratio, false);
    if (!b->digest.empty() && b->digest != n.digest) {
      fmt::print("{:<16} digest {} -> {}: the simulation's behaviour changed since the baseline\n",
                 n.name, b->digest, n.digest);
    }
  }
  fmt::print("\n{} regression{} (threshold: {:.0f}% worse)\n", regressions,
             regressions == 1 ? "" : "s", kRegressionThreshold * 100);
  return regressions;
}

}  // namespace shardsim::tools
