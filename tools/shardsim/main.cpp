// shardsim — the command-line face of the simulator.
//
//   shardsim run SCENARIO [--seed N] [--swarm] [--check-determinism] [--json FILE] [--trace FILE]
//   shardsim check SCENARIO...
//   shardsim replay SCENARIO --seed N [--digest HEX]
//   shardsim bench [--suite NAME]... [--repeats N]
//   shardsim sweep SCENARIO... --seeds A..B [--jobs N] [--shard i/n] [--out FILE] [--recheck P%]
//   shardsim merge FILE.jsonl... [--out FILE]
//   shardsim shrink SCENARIO --seed N --out FILE [--checker NAME] [--max-runs K] [--swarm]
//
// Exit codes: 0 every checker and expectation held; 1 a run failed (or a replay digest differed);
// 2 bad input (scenario errors, bad flags, unreadable files); 130 a sweep was interrupted.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/runner/determinism.h"
#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "tools/shardsim/bench_command.h"
#include "tools/shardsim/huge_pages.h"
#include "tools/shardsim/merge_command.h"
#include "tools/shardsim/report.h"
#include "tools/shardsim/shrink_command.h"
#include "tools/shardsim/sweep_command.h"

namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitBadInput = 2;

std::optional<shardsim::scenario::ScenarioSpec> load_or_report(const std::string& path) {
  auto result = shardsim::scenario::load_file(path);
  for (const auto& d : result.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
  if (!result.ok()) return std::nullopt;
  return std::move(*result.spec);
}

struct RunFlags {
  bool swarm{false};
  bool check_determinism{false};
  bool inject_nondeterminism{false};  // debug knob (hidden): proves --check-determinism works
};

// --check-determinism: two runs must agree; on a mismatch, name the first record where they part.
int report_determinism(const shardsim::sim::DeterminismReport& d) {
  if (d.same) {
    std::printf("determinism identical: 2 runs, digest %016llx\n",
                static_cast<unsigned long long>(d.digest_a));
    return kExitPass;
  }
  std::printf("determinism MISMATCH: run 1 digest %016llx, run 2 digest %016llx\n",
              static_cast<unsigned long long>(d.digest_a), static_cast<unsigned long long>(d.digest_b));
  if (d.first_a || d.first_b) {
    std::printf("first diverging trace event:\n");
    std::printf("  run 1: %s\n", d.first_a ? d.first_a->describe().c_str() : "(run ended)");
    std::printf("  run 2: %s\n", d.first_b ? d.first_b->describe().c_str() : "(run ended)");
  }
  if (!d.note.empty()) std::printf("  %s\n", d.note.c_str());
  return kExitFail;
}

int cmd_run(const std::string& path, std::optional<std::uint64_t> seed, const std::string& json,
            const std::string& trace, std::optional<std::string> expect_digest,
            const RunFlags& flags = {}) {
  auto spec = load_or_report(path);
  if (!spec) return kExitBadInput;
  shardsim::sim::RunOptions options;
  options.seed = seed;
  options.trace_path = trace;
  options.swarm = flags.swarm;
  options.inject_nondeterminism = flags.inject_nondeterminism;
  shardsim::sim::RunResult result;
  std::optional<shardsim::sim::DeterminismReport> determinism;
  try {
    if (flags.check_determinism) {
      determinism = shardsim::sim::check_determinism(*spec, options);
      result = determinism->run;
    } else {
      result = shardsim::sim::run_scenario(*spec, options);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitBadInput;
  }
  if (!result.swarm.empty()) std::printf("%s\n", result.swarm.c_str());
  for (const auto& note : result.notes) std::printf("%s\n", note.c_str());
  shardsim::tools::print_summary(stdout, result);
  if (determinism && report_determinism(*determinism) != kExitPass) return kExitFail;
  if (!json.empty()) {
    std::string error;
    if (!shardsim::tools::write_json(json, result, error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return kExitBadInput;
    }
  }
  if (expect_digest) {
    if (*expect_digest != result.digest_hex()) {
      std::printf("replay     DIGEST MISMATCH: expected %s, got %s\n", expect_digest->c_str(),
                  result.digest_hex().c_str());
      return kExitFail;
    }
    std::printf("replay     digest matches\n");
  }
  return result.passed ? kExitPass : kExitFail;
}

int cmd_check(const std::vector<std::string>& paths) {
  int worst = kExitPass;
  for (const auto& p : paths) {
    if (load_or_report(p))
      std::printf("%s: ok\n", p.c_str());
    else
      worst = kExitBadInput;
  }
  return worst;
}

bool valid_hex_digest(const std::string& s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  shardsim::tools::use_huge_page_heap();  // before anything sizeable is allocated
  CLI::App app{
      "shardsim: deterministic simulation of a spatially sharded game server.\n"
      "Every run is a pure function of (scenario, seed, build).",
      "shardsim"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  shardsim run scenarios/quickstart.yaml --seed 7\n"
      "  shardsim check scenarios/*.yaml\n"
      "  shardsim replay scenarios/quickstart.yaml --seed 7 --digest 0123456789abcdef\n"
      "  shardsim bench --suite kernel\n"
      "  shardsim sweep scenarios/chaos.yaml --seeds 1..1000 --jobs 2 --out chaos.jsonl\n"
      "  shardsim merge chaos-0.jsonl chaos-1.jsonl --out chaos.jsonl\n"
      "Exit codes: 0 pass, 1 a checker or expectation failed, 2 bad input.");

  std::string run_path;
  std::optional<std::uint64_t> run_seed;
  std::string run_json;
  std::string run_trace;
  auto* run = app.add_subcommand("run", "Simulate a scenario and print a summary.");
  run->add_option("scenario", run_path, "Scenario YAML file")->required();
  run->add_option("--seed", run_seed, "Seed (overrides the scenario's seed)");
  run->add_option("--json", run_json, "Write a JSON report to FILE");
  run->add_option("--trace", run_trace, "Write every trace event as JSON Lines to FILE");
  RunFlags run_flags;
  run->add_flag("--swarm", run_flags.swarm,
                "Swarm testing: the seed also picks which chaos fault kinds run, and how hard");
  run->add_flag("--check-determinism", run_flags.check_determinism,
                "Run twice; on a digest mismatch report the first diverging trace event");
  run->add_flag("--debug-inject-nondeterminism", run_flags.inject_nondeterminism,
                "Debug knob: every second run nudges one latency by 1us (tests --check-determinism)")
      ->group("");  // hidden
  run->footer(
      "Examples:\n  shardsim run scenarios/quickstart.yaml\n"
      "  shardsim run scenarios/quickstart.yaml --seed 8 --json out.json --trace out.jsonl\n"
      "  shardsim run scenarios/chaos.yaml --seed 4 --check-determinism\n"
      "  shardsim run scenarios/chaos.yaml --seed 17 --swarm");

  std::vector<std::string> check_paths;
  auto* check = app.add_subcommand("check", "Validate scenario files without running them.");
  check->add_option("scenarios", check_paths, "Scenario YAML files")->required();
  check->footer("Example:\n  shardsim check scenarios/*.yaml");

  std::string replay_path;
  std::uint64_t replay_seed = 0;
  std::string replay_digest;
  std::string replay_trace;
  auto* replay = app.add_subcommand("replay", "Re-run a scenario at a seed; fail if the digest differs.");
  replay->add_option("scenario", replay_path, "Scenario YAML file")->required();
  replay->add_option("--seed", replay_seed, "Seed of the run to replay")->required();
  replay->add_option("--digest", replay_digest, "Expected trace digest (16 hex digits)");
  replay->add_option("--trace", replay_trace, "Write every trace event as JSON Lines to FILE");
  RunFlags replay_flags;
  replay->add_flag("--swarm", replay_flags.swarm, "The run was a swarm run (see run --swarm)");
  replay->footer(
      "Example (the command a failed run prints):\n"
      "  shardsim replay scenarios/quickstart.yaml --seed 7 --digest 0123456789abcdef");

  shardsim::tools::BenchOptions bench_options;
  auto* bench = app.add_subcommand("bench", "Run the benchmarks (Release build recommended).");
  shardsim::tools::add_bench_options(*bench, bench_options);

  shardsim::tools::SweepOptions sweep_options;
  auto* sweep = app.add_subcommand("sweep", "Run scenarios over a seed range, a process per run.");
  shardsim::tools::add_sweep_options(*sweep, sweep_options);

  shardsim::tools::MergeOptions merge_options;
  auto* merge = app.add_subcommand("merge", "Fold sharded sweep results (JSONL) into one.");
  shardsim::tools::add_merge_options(*merge, merge_options);

  shardsim::tools::ShrinkOptions shrink_options;
  auto* shrink = app.add_subcommand("shrink", "Minimize a failing run into a standalone scenario.");
  shardsim::tools::add_shrink_options(*shrink, shrink_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }

  if (run->parsed()) return cmd_run(run_path, run_seed, run_json, run_trace, std::nullopt, run_flags);
  if (check->parsed()) return cmd_check(check_paths);
  if (replay->parsed()) {
    std::optional<std::string> digest;
    if (!replay_digest.empty()) {
      if (!valid_hex_digest(replay_digest)) {
        std::fprintf(stderr, "error: --digest must be 16 lowercase hex digits, got '%s'\n",
                     replay_digest.c_str());
        return kExitBadInput;
      }
      digest = replay_digest;
    }
    return cmd_run(replay_path, replay_seed, "", replay_trace, digest, replay_flags);
  }
  if (bench->parsed()) return shardsim::tools::run_bench(bench_options);
  if (sweep->parsed()) return shardsim::tools::run_sweep(sweep_options);
  if (merge->parsed()) return shardsim::tools::run_merge(merge_options);
  if (shrink->parsed()) return shardsim::tools::run_shrink(shrink_options);
  return kExitBadInput;
}
