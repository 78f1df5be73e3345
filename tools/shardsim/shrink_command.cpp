#include "tools/shardsim/shrink_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>

#include "sim/runner/faults.h"
#include "sim/runner/swarm.h"
#include "sim/scenario/loader.h"
#include "sim/scenario/units.h"
#include "tools/shardsim/shrinker.h"
#include "tools/shardsim/worker_pool.h"

namespace shardsim::tools {
namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitInterrupted = 130;
constexpr std::size_t kMaxNameLength = 64;  // the loader's limit on `name`

using scenario::format_duration;

std::string seconds(Time t) { return format_duration(t - Time::zero()); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The target: --checker if given (a checker with violations, else a failed expectation's metric),
// else the checker of the first violation, else the first failed expectation's metric.
std::optional<ShrinkTarget> choose_target(const RunDigest& run, const std::string& wanted) {
  using Kind = ShrinkTarget::Kind;
  if (!wanted.empty()) {
    const ShrinkTarget as_checker{Kind::checker, wanted};
    if (run.fails(as_checker)) return as_checker;
    const ShrinkTarget as_expectation{Kind::expectation, wanted};
    if (run.fails(as_expectation)) return as_expectation;
    return std::nullopt;
  }
  if (!run.violations.empty()) return ShrinkTarget{Kind::checker, run.violations.front().first};
  for (const auto& [metric, held] : run.expectations)
    if (!held) return ShrinkTarget{Kind::expectation, metric};
  return std::nullopt;
}

// The scenario with its faults made explicit: realize_faults() is what the runner applies, so this
// is the same run with chaos written out. Named and described as the shrunk file will be, so the
// candidates' runs are byte for byte the runs of the file written at the end.
Candidate explicit_schedule(const scenario::ScenarioSpec& original, const ShrinkOptions& o,
                            const ShrinkTarget& target) {
  Candidate c;
  c.spec = original;
  c.faults = sim::realize_faults(original, o.seed);
  c.spec.faults.clear();
  c.spec.chaos = scenario::ChaosSpec{};
  c.spec.seed = o.seed;
  constexpr std::string_view kSuffix = "-shrunk";
  c.spec.name = original.name.substr(0, kMaxNameLength - kSuffix.size()) + std::string{kSuffix};
  c.spec.description =
      fmt::format("Shrunk by `shardsim shrink` from {} (seed {}{}) on {}. {}", original.file,
                  o.seed, o.swarm ? ", swarm" : "", target.describe(), original.description);
  while (!c.spec.description.empty() && c.spec.description.back() == '\n')
    c.spec.description.pop_back();
  return c;
}

struct Shape {
  std::size_t faults{0};
  std::size_t chaos_faults{0};
  int players{0};
  std::size_t nodes{0};
  int cells_x{0};
  int cells_y{0};
  scenario::BotsSpec bots;
  Duration duration;
};

Shape shape_of(const Candidate& c) {
  Shape s;
  s.faults = c.faults.size();
  s.chaos_faults = static_cast<std::size_t>(std::count_if(
      c.faults.begin(), c.faults.end(), [](const sim::RealizedFault& f) { return f.from_chaos; }));
  s.players = c.spec.players.count;
  s.nodes = c.spec.node_names.size();
  s.cells_x = c.spec.world.cells_x;
  s.cells_y = c.spec.world.cells_y;
  s.bots = c.spec.bots;
  s.duration = c.spec.duration;
  return s;
}

std::string npcs(const scenario::BotsSpec& b) {
  return b.density_max == 0 ? "none"
                            : fmt::format("[{}, {}] per cell", b.density_min, b.density_max);
}

std::vector<std::string> header(const ShrinkOptions& o, const ShrinkTarget& target,
                                const Shape& before, const Shape& after, std::uint64_t digest) {
  return {
      fmt::format("Shrunk by `shardsim shrink` from {} at seed {}{}, on {}.", o.scenario, o.seed,
                  o.swarm ? " (a swarm run)" : "", target.describe()),
      fmt::format("Reduced: faults {} -> {}, players {} -> {}, nodes {} -> {}, cells {}x{} -> "
                  "{}x{}, duration {} -> {}.",
                  before.faults, after.faults, before.players, after.players, before.nodes,
                  after.nodes, before.cells_x, before.cells_y, after.cells_x, after.cells_y,
                  format_duration(before.duration), format_duration(after.duration)),
      before.chaos_faults > 0
          ? "The fault schedule is explicit (chaos written out); every run fails the same way."
          : "The fault schedule is explicit; every run fails the same way.",
      "Replay:",
      fmt::format("  shardsim run {}   # exits 1: {} fails", o.out, target.name),
      fmt::format("  shardsim replay {} --seed {} --digest {:016x}", o.out, o.seed, digest),
  };
}

// Writes OUT.tmp, checks that the file as written fails the target with the shrink's digest, and
// renames it into place. False (OUT untouched, OUT.tmp removed) with the reason printed otherwise.
bool write_verified(const ShrinkOptions& o, const ShrinkTarget& target, const std::string& text,
                    const RunDigest& expected, bool verify, int& exit_code) {
  const std::string tmp = o.out + ".tmp";
  {
    std::ofstream file{tmp, std::ios::binary | std::ios::trunc};
    file << text;
    file.close();
    if (!file) {
      std::fprintf(stderr, "error: cannot write %s\n", tmp.c_str());
      std::remove(tmp.c_str());
      exit_code = kExitBadInput;
      return false;
    }
  }
  if (verify) {
    auto loaded = scenario::load_file(tmp);
    std::optional<RunDigest> again;
    if (loaded.ok()) again = run_isolated(*loaded.spec, o.seed);
    const bool same = again && again->fails(target) && again->digest == expected.digest;
    if (loaded.ok() && !again) {
      fmt::print(stderr, "interrupted during the final check of {}; nothing written\n", tmp);
      std::remove(tmp.c_str());
      exit_code = kExitInterrupted;
      return false;
    }
    if (!same) {
      for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
      const std::string got = again && again->ran ? fmt::format("{:016x}", again->digest) : "none";
      fmt::print(stderr,
                 "error: the written scenario does not reproduce the failure of {} (digest {}, "
                 "expected {:016x}); nothing written\n",
                 target.name, got, expected.digest);
      std::remove(tmp.c_str());
      exit_code = kExitFail;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), o.out.c_str()) != 0) {
    std::fprintf(stderr, "error: cannot write %s\n", o.out.c_str());
    std::remove(tmp.c_str());
    exit_code = kExitBadInput;
    return false;
  }
  return true;
}

void print_report(const ShrinkOptions& o, const ShrinkTarget& target, const Shape& before,
                  const Shape& after, const Shrinker& s, double wall_s) {
  fmt::print("\nshrunk     {} seed {} on {}\n", o.scenario, o.seed, target.describe());
  fmt::print("faults     {} -> {}   (from chaos: {} -> {})\n", before.faults, after.faults,
             before.chaos_faults, after.chaos_faults);
  fmt::print("players    {} -> {}\n", before.players, after.players);
  fmt::print("nodes      {} -> {}\n", before.nodes, after.nodes);
  fmt::print("cells      {}x{} -> {}x{}\n", before.cells_x, before.cells_y, after.cells_x,
             after.cells_y);
  fmt::print("NPCs       {} -> {}\n", npcs(before.bots), npcs(after.bots));
  fmt::print("duration   {} -> {}\n", format_duration(before.duration),
             format_duration(after.duration));
  fmt::print("runs       {} of {} ({} candidates refused by the loader, {} ended by a crash){}\n",
             s.runs(), o.max_runs, s.refused(), s.crashed(),
             s.out_of_runs() ? "; runs ran out, so it may shrink further with more" : "");
  fmt::print("wall       {:.1f}s\n", wall_s);
}

// The original run and its target. kExitPass, or the exit code when there is nothing to shrink.
int first_run(const scenario::ScenarioSpec& original, const ShrinkOptions& o, RunDigest& run,
              ShrinkTarget& target) {
  const auto first = run_isolated(original, o.seed);
  if (!first) return kExitInterrupted;
  if (!first->ran) {
    fmt::print(stderr, "error: the run ended by {}; shrink needs a run that ends with a failure\n",
               first->ended_by);
    return kExitFail;
  }
  if (first->passed) {
    fmt::print(stderr, "the run passes: nothing to shrink\n");
    return kExitFail;
  }
  const auto chosen = choose_target(*first, o.checker);
  if (!chosen) {
    fmt::print(stderr, "error: the run does not fail {}; it fails: {}\n", o.checker,
               join(first->failing()));
    return kExitFail;
  }
  const auto at = first->first_violation(chosen->name);
  fmt::print("target     {}{} (the run fails: {})\n", chosen->describe(),
             chosen->kind == ShrinkTarget::Kind::checker && at ? ", first at " + seconds(*at) : "",
             join(first->failing()));
  run = *first;
  target = *chosen;
  return kExitPass;
}

// Writes the best candidate (verified, unless interrupted) and reports.
int finish(const ShrinkOptions& o, const ShrinkTarget& target, const Shape& before,
           const Shrinker& shrinker, std::chrono::steady_clock::time_point wall_start) {
  const Shape after = shape_of(shrinker.best());
  const std::string text = candidate_yaml(
      shrinker.best(), header(o, target, before, after, shrinker.best_result().digest));
  int exit_code = kExitPass;
  const bool interrupted = shrinker.interrupted();
  if (interrupted) fmt::print("interrupted: writing the smallest reproducer found so far\n");
  if (!write_verified(o, target, text, shrinker.best_result(), !interrupted, exit_code))
    return exit_code;
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  print_report(o, target, before, after, shrinker, wall_s);
  fmt::print("wrote      {} (digest {:016x}{})\n", o.out, shrinker.best_result().digest,
             interrupted ? "; not re-run after the interrupt" : ", re-run from the file");
  fmt::print("replay     shardsim run {}\n", o.out);
  return interrupted ? kExitInterrupted : kExitPass;
}

}  // namespace

void add_shrink_options(CLI::App& app, ShrinkOptions& o) {
  app.add_option("scenario", o.scenario, "Scenario YAML file of the failing run")->required();
  app.add_option("--seed", o.seed, "Seed of the failing run")->required();
  app.add_option("--out", o.out, "Write the shrunk scenario to FILE (atomically)")->required();
  app.add_option(
      "--checker", o.checker,
      "Failure to keep: a checker (players.duplicated, split_brain.violations, ...) or an "
      "expectation's metric (default: the first failure)");
  app.add_option("--max-runs", o.max_runs, "Simulation runs at most (default 200)")
      ->check(CLI::Range(2, 1'000'000));
  app.add_flag("--swarm", o.swarm,
               "The failing run was a swarm run (run --swarm): shrink the chaos the seed picked");
  app.footer(
      "Makes the run's fault schedule explicit (chaos written out), then removes faults (delta\n"
      "debugging), players, nodes, cells, NPCs and simulated time while the same checker still\n"
      "fails, and writes a standalone scenario that fails it deterministically.\n"
      "Example:\n"
      "  shardsim shrink scenarios/chaos.yaml --seed 42 --out tests/regress/chaos_42.yaml\n"
      "  shardsim shrink scenarios/bug_skip_lease_check.yaml --seed 17 --swarm --out min.yaml\n"
      "Exit codes: 0 written, 1 nothing to shrink or not reproducible, 2 bad input,\n"
      "130 interrupted (the smallest reproducer so far is written).");
}

int run_shrink(const ShrinkOptions& o) {
  const auto wall_start = std::chrono::steady_clock::now();
  auto loaded = scenario::load_file(o.scenario);
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
  if (!loaded.ok()) return kExitBadInput;
  install_interrupt_handlers();
  fmt::print("shrink     {} seed {} (at most {} runs)\n", o.scenario, o.seed, o.max_runs);
  // A swarm run is the plain run of the scenario with the chaos the swarm chose for the seed.
  if (o.swarm) {
    sim::SwarmChoice choice = sim::choose_swarm(*loaded.spec, o.seed);
    fmt::print("{}\n", choice.description);
    loaded.spec = std::move(choice.spec);
  }
  const scenario::ScenarioSpec& original = *loaded.spec;
  RunDigest first;
  ShrinkTarget target;
  if (const int code = first_run(original, o, first, target); code != kExitPass) return code;

  Shrinker shrinker{target, o.seed, o.max_runs, stdout};
  shrinker.count_run();
  Candidate start = explicit_schedule(original, o, target);
  const auto explicit_run = shrinker.probe(start);
  if (shrinker.interrupted()) return kExitInterrupted;
  if (!explicit_run || !explicit_run->fails(target)) {
    fmt::print(stderr,
               "error: with its {} faults made explicit (chaos off) the scenario no longer fails "
               "{} ({}); realize_faults() and the runner disagree, so there is nothing to shrink "
               "from — please report this\n",
               start.faults.size(), target.name,
               !explicit_run       ? "the loader refused the written scenario"
               : explicit_run->ran ? "it fails: " + join(explicit_run->failing())
                                   : "the run ended by " + explicit_run->ended_by);
    return kExitFail;
  }
  const Shape before = shape_of(start);
  fmt::print(
      "explicit   {} fault(s), {} from chaos, chaos off: still fails; digest {} the first "
      "run's\n",
      before.faults, before.chaos_faults,
      explicit_run->digest == first.digest ? "equals" : "differs from");

  shrinker.shrink(std::move(start), *explicit_run);
  return finish(o, target, before, shrinker, wall_start);
}

}  // namespace shardsim::tools
