// shardsim — the command-line face of the simulator.
//
//   shardsim run SCENARIO [--seed N] [--json FILE] [--trace FILE]
//   shardsim check SCENARIO...
//   shardsim replay SCENARIO --seed N [--digest HEX]
//   shardsim bench [--suite NAME]... [--repeats N]
//
// Exit codes: 0 every checker and expectation held; 1 a run failed (or a replay digest differed);
// 2 bad input (scenario errors, bad flags, unreadable files).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "tools/shardsim/bench_command.h"
#include "tools/shardsim/report.h"

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

int cmd_run(const std::string& path, std::optional<std::uint64_t> seed, const std::string& json,
            const std::string& trace, std::optional<std::string> expect_digest) {
  auto spec = load_or_report(path);
  if (!spec) return kExitBadInput;
  shardsim::sim::RunOptions options;
  options.seed = seed;
  options.trace_path = trace;
  shardsim::sim::RunResult result;
  try {
    result = shardsim::sim::run_scenario(*spec, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitBadInput;
  }
  shardsim::tools::print_summary(stdout, result);
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
  run->footer(
      "Examples:\n  shardsim run scenarios/quickstart.yaml\n"
      "  shardsim run scenarios/quickstart.yaml --seed 8 --json out.json --trace out.jsonl");

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
  replay->footer(
      "Example (the command a failed run prints):\n"
      "  shardsim replay scenarios/quickstart.yaml --seed 7 --digest 0123456789abcdef");

  shardsim::tools::BenchOptions bench_options;
  auto* bench = app.add_subcommand("bench", "Run the benchmarks (Release build recommended).");
  shardsim::tools::add_bench_options(*bench, bench_options);

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

  if (run->parsed()) return cmd_run(run_path, run_seed, run_json, run_trace, std::nullopt);
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
    return cmd_run(replay_path, replay_seed, "", replay_trace, digest);
  }
  if (bench->parsed()) return shardsim::tools::run_bench(bench_options);
  return kExitBadInput;
}
