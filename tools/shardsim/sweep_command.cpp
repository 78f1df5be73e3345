#include "tools/shardsim/sweep_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>

#include "engine/core/assert.h"
#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "tools/shardsim/atomic_file.h"
#include "tools/shardsim/progress.h"
#include "tools/shardsim/sweep_plan.h"
#include "tools/shardsim/sweep_record.h"
#include "tools/shardsim/sweep_summary.h"
#include "tools/shardsim/worker_pool.h"

namespace shardsim::tools {
namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitBadInput = 2;
constexpr std::uint64_t kRunsMax = 10'000'000;  // larger sweeps: shard them
constexpr int kJobsMax = 256;

using Clock = std::chrono::steady_clock;

struct Flags {
  SeedRange range;
  Shard shard;
  unsigned recheck_percent{0};
  int jobs{1};
};

std::optional<Flags> parse_flags(const SweepOptions& o) {
  Flags f;
  bool ok = true;
  std::string error;
  auto complain = [&] {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    ok = false;
  };
  if (auto range = parse_seed_range(o.seeds, error))
    f.range = *range;
  else
    complain();
  if (auto shard = parse_shard(o.shard, error))
    f.shard = *shard;
  else
    complain();
  if (auto p = parse_percent(o.recheck, error))
    f.recheck_percent = *p;
  else
    complain();
  if (o.jobs < 0 || o.jobs > kJobsMax) {
    error = fmt::format("--jobs must be from 1 to {} (0 or absent: one per CPU), got {}", kJobsMax,
                        o.jobs);
    complain();
  }
  f.jobs = o.jobs == 0 ? available_cpus() : o.jobs;
  if (!ok) return std::nullopt;
  return f;
}

// Every scenario, or every problem with them (all diagnostics, not just the first file's).
std::optional<std::vector<scenario::ScenarioSpec>> load_all(const std::vector<std::string>& paths) {
  std::vector<scenario::ScenarioSpec> specs;
  bool ok = true;
  for (const auto& path : paths) {
    auto loaded = scenario::load_file(path);
    for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.format().c_str());
    if (!loaded.ok()) {
      ok = false;
      continue;
    }
    for (const auto& other : specs) {
      if (other.name != loaded.spec->name) continue;
      if (other.file == path)
        std::fprintf(stderr, "error: %s is listed twice\n", path.c_str());
      else
        std::fprintf(stderr,
                     "error: %s and %s are both named '%s'; a sweep tells runs apart by (scenario "
                     "name, seed), so rename one\n",
                     other.file.c_str(), path.c_str(), other.name.c_str());
      ok = false;
    }
    specs.push_back(std::move(*loaded.spec));
  }
  if (!ok) return std::nullopt;
  return specs;
}

// The last non-empty line a worker printed: for an assertion, its report.
std::string last_line(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.remove_suffix(1);
  const auto nl = text.rfind('\n');
  return std::string{nl == std::string_view::npos ? text : text.substr(nl + 1)};
}

// The parent's record of a finished worker: its own line, or a crash record when it died.
// `swarm`: the sweep runs --swarm (a crash record's replay line needs it).
SweepRecord record_of(const SweepPlan& plan, const TaskOutcome& o, bool swarm) {
  const auto& spec = plan.spec_of(o.index);
  const std::uint64_t seed = plan.seed_of(o.index);
  auto crash = [&](std::string why) {
    const std::string how = o.how_ended();
    return crash_members(spec.name, spec.file, seed, how.empty() ? "none" : how, why, swarm);
  };
  std::string members;
  if (o.result_overflow) {
    members = crash("the worker's result was too long");
  } else if (!o.exited_cleanly() || o.result.empty()) {
    const std::string said = last_line(o.output_tail);
    members = crash(said.empty() ? "the worker ended without a result" : said);
  } else {
    members = o.result;
  }
  std::string error;
  auto r = parse_record(finish_line(members, o.wall_ms()), error);
  if (!r) r = parse_record(finish_line(crash("unreadable result: " + error), o.wall_ms()), error);
  SHARD_ASSERT_MSG(r.has_value(), "crash record does not parse: {}", error);
  return std::move(*r);
}

class Sweep {
 public:
  Sweep(const SweepPlan& plan, const Flags& flags, const SweepOptions& options, AtomicFile& out)
      : plan_{plan},
        flags_{flags},
        options_{options},
        out_{out},
        done_(plan.runs(), 0),
        spans_(plan.specs().size()),
        terminal_{::isatty(STDERR_FILENO) != 0} {}

  int run() {
    print_plan();
    const auto start = Clock::now();
    Progress progress{stderr, "sweep", plan_.runs(), terminal_};
    const PoolEnd end = run_pool(
        plan_.runs(), pool_options(), [&](std::size_t i) { return run_in_worker(i, false); },
        [&](TaskOutcome&& o) {
          on_done(std::move(o));
          progress.update(completed_, summary_.failures());
        },
        [&] { progress.update(completed_, summary_.failures()); });
    progress.finish(completed_, summary_.failures());
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    write_completed();  // after an interrupt some lines wait behind a gap; write them too
    std::string error;
    if (!out_.commit(error)) {
      std::fprintf(stderr, "error: %s\n", error.c_str());
      return kExitBadInput;
    }
    if (!options_.out.empty())
      std::printf("results    %zu line(s) in %s\n", completed_, options_.out.c_str());
    for (std::size_t s = 0; s < spans_.size(); ++s)
      if (spans_[s].runs > 0)
        summary_.set_elapsed(
            plan_.specs()[s].name,
            std::chrono::duration<double>(spans_[s].last - spans_[s].first).count());

    const bool interrupted =
        end == PoolEnd::interrupted || (flags_.recheck_percent > 0 && !recheck());
    std::printf("\n");
    summary_.print(stdout, elapsed);
    if (interrupted) {
      report_missing();
      return 128 + interrupt_signal();
    }
    return summary_.all_passed() ? kExitPass : kExitFail;
  }

 private:
  struct Span {
    std::size_t runs{0};
    Clock::time_point first;
    Clock::time_point last;
  };

  PoolOptions pool_options() const {
    PoolOptions p;
    p.jobs = flags_.jobs;
    p.window_max = std::max<std::size_t>(1024, static_cast<std::size_t>(flags_.jobs) * 64);
    return p;
  }

  void print_plan() const {
    const auto& r = flags_.range;
    std::printf(
        "sweep      %zu scenario(s) x %llu seed(s) = %llu run(s); seeds %llu..%llu, shard "
        "%llu/%llu; "
        "%d worker(s)\n",
        plan_.specs().size(), static_cast<unsigned long long>(plan_.seeds_per_scenario()),
        static_cast<unsigned long long>(plan_.runs()), static_cast<unsigned long long>(r.first),
        static_cast<unsigned long long>(r.last),
        static_cast<unsigned long long>(flags_.shard.index),
        static_cast<unsigned long long>(flags_.shard.count), flags_.jobs);
    std::fflush(stdout);
  }

  // Runs in the worker process, which has the plan (and every loaded scenario) from the fork.
  // `rerun`: a --recheck run, which the --skew-recheck test knob sends to the wrong seed.
  std::string run_in_worker(std::size_t run, bool rerun) const {
    const std::uint64_t seed = plan_.seed_of(run);
    SHARD_ASSERT_MSG(options_.crash_seed != seed, "--crash-seed {}: this worker aborts on purpose",
                     seed);
    sim::RunOptions o;
    o.seed = seed + (rerun && options_.skew_recheck ? 1 : 0);
    o.swarm = options_.swarm;
    sim::RunResult r = sim::run_scenario(plan_.spec_of(run), o);
    r.seed = seed;
    return record_members(r);
  }

  void on_done(TaskOutcome&& o) {
    Span& span = spans_[plan_.scenario_of(o.index)];
    span.first = span.runs++ == 0 ? o.started : std::min(span.first, o.started);
    span.last = std::max(span.last, o.ended);
    SweepRecord r = record_of(plan_, o, options_.swarm);
    summary_.add(r);
    if (flags_.recheck_percent > 0 && recheck_selected(r.seed, flags_.recheck_percent)) {
      firsts_[o.index] = r;
      firsts_[o.index].line.clear();
    }
    done_[o.index] = 1;
    ++completed_;
    pending_.emplace(o.index, std::move(r));
    while (!pending_.empty() && pending_.begin()->first == next_write_) {
      out_.write_line(pending_.begin()->second.line);
      pending_.erase(pending_.begin());
      ++next_write_;
    }
  }

  void write_completed() {
    for (const auto& [index, r] : pending_) out_.write_line(r.line);
    pending_.clear();
  }

  // Reruns the sample; false if interrupted.
  bool recheck() {
    std::vector<std::size_t> sample;
    for (const auto& [index, first] : firsts_) sample.push_back(index);
    std::printf("recheck    %zu run(s) (seeds with splitmix64(seed) %% 100 < %u)\n", sample.size(),
                flags_.recheck_percent);
    std::fflush(stdout);
    Progress progress{stderr, "recheck", sample.size(), terminal_};
    std::size_t done = 0;
    std::size_t differing = 0;
    const PoolEnd end = run_pool(
        sample.size(), pool_options(),
        [&](std::size_t j) { return run_in_worker(sample[j], true); },
        [&](TaskOutcome&& o) {
          const std::size_t run = sample[o.index];
          o.index = run;
          const SweepRecord again = record_of(plan_, o, options_.swarm);
          const SweepRecord& first = firsts_.at(run);
          if (again.fingerprint() != first.fingerprint()) {
            summary_.add_nondeterministic(first, again.fingerprint());
            ++differing;
          }
          progress.update(++done, differing);
        },
        [&] { progress.update(done, differing); });
    progress.finish(done, differing);
    std::printf("recheck    %zu of %zu rerun(s) differ\n", differing, done);
    return end == PoolEnd::finished;
  }

  void report_missing() const {
    std::printf("\ninterrupted (%s): %zu of %llu run(s) completed and are in the results\n",
                interrupt_signal() == SIGTERM ? "SIGTERM" : "SIGINT", completed_,
                static_cast<unsigned long long>(plan_.runs()));
    std::optional<std::uint64_t> first_missing;
    for (std::size_t s = 0; s < plan_.specs().size(); ++s) {
      const std::size_t per = plan_.seeds_per_scenario();
      std::size_t missing = 0;
      for (std::size_t run = s * per; run < (s + 1) * per; ++run) {
        if (done_[run]) continue;
        ++missing;
        first_missing = std::min(first_missing.value_or(UINT64_MAX), plan_.seed_of(run));
      }
      if (missing > 0)
        std::printf("  %s: %zu run(s) not done\n", plan_.specs()[s].name.c_str(), missing);
    }
    if (!first_missing) return;
    // Seeds from the first missing one on; it belongs to our shard, so there it is shard 0 of n.
    std::string command = "shardsim sweep";
    for (const auto& spec : plan_.specs()) command += " " + spec.file;
    command += fmt::format(" --seeds {}..{}", *first_missing, flags_.range.last);
    if (flags_.shard.count > 1) command += fmt::format(" --shard 0/{}", flags_.shard.count);
    const std::string out = options_.out.empty() ? "" : options_.out;
    std::printf("to finish: %s --out rest.jsonl\n", command.c_str());
    if (!out.empty())
      std::printf("           shardsim merge %s rest.jsonl --out all.jsonl\n", out.c_str());
  }

  const SweepPlan& plan_;
  const Flags flags_;
  const SweepOptions& options_;
  AtomicFile& out_;
  SweepSummary summary_;
  std::map<std::size_t, SweepRecord> pending_;  // completed, waiting for an earlier run
  std::size_t next_write_{0};
  std::size_t completed_{0};
  std::vector<char> done_;                     // by run index
  std::map<std::size_t, SweepRecord> firsts_;  // first results of the runs --recheck reruns
  std::vector<Span> spans_;                    // by scenario: when its runs were in flight
  bool terminal_;
};

}  // namespace

void add_sweep_options(CLI::App& app, SweepOptions& o) {
  app.add_option("scenarios", o.scenarios, "Scenario YAML files")->required();
  app.add_option("--seeds", o.seeds, "Seed range A..B (inclusive), or one seed N")->required();
  app.add_option("--jobs,-j", o.jobs, "Worker processes at once (default: one per CPU)");
  app.add_option("--shard", o.shard,
                 "Run only shard i of n (0-based): seeds s with (s - A) % n == i");
  app.add_option("--out", o.out, "Write one JSON line per run to FILE (atomically)");
  app.add_flag("--swarm", o.swarm,
               "Swarm testing: each seed also picks which chaos fault kinds run, and how hard");
  app.add_option("--recheck", o.recheck,
                 "Rerun about P% of the seeds and fail if a digest differs");
  app.add_option("--crash-seed", o.crash_seed, "Test knob: the worker for this seed aborts")
      ->group("");
  app.add_flag("--skew-recheck", o.skew_recheck, "Test knob: --recheck reruns seed + 1")->group("");
  app.footer(
      "Every run is its own process; lines are written in (scenario name, seed) order whatever "
      "--jobs\n"
      "is, with wall_ms last: `sed 's/, \"wall_ms\": [0-9]*}$/}/'` leaves bytes that depend only "
      "on\n"
      "(scenarios, seeds, build).\n"
      "Examples:\n"
      "  shardsim sweep scenarios/chaos.yaml --seeds 1..1000 --jobs 2 --out chaos.jsonl\n"
      "  shardsim sweep scenarios/chaos.yaml --seeds 1..1000 --shard 3/8 --out chaos-3.jsonl\n"
      "  shardsim sweep scenarios/*.yaml --seeds 1..50 --recheck 5%\n"
      "Exit codes: 0 all passed, 1 a run failed, crashed or was nondeterministic, 2 bad input,\n"
      "130 interrupted (the completed runs are written).");
}

int run_sweep(const SweepOptions& options) {
  const auto flags = parse_flags(options);
  auto specs = load_all(options.scenarios);
  if (!flags || !specs) return kExitBadInput;
  const std::uint64_t per_scenario = seeds_in_shard(flags->range, flags->shard);
  if (per_scenario > kRunsMax / specs->size()) {
    std::fprintf(stderr, "error: more than %llu runs; split the sweep with --shard i/n\n",
                 static_cast<unsigned long long>(kRunsMax));
    return kExitBadInput;
  }
  const SweepPlan plan{std::move(*specs), flags->range, flags->shard};
  AtomicFile out;
  std::string error;
  if (!options.out.empty() && !out.open(options.out, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitBadInput;
  }
  install_interrupt_handlers();
  try {
    return Sweep{plan, *flags, options, out}.run();
  } catch (const std::exception& e) {  // the OS refused a worker
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitBadInput;
  }
}

}  // namespace shardsim::tools
