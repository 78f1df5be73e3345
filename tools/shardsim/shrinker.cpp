#include "tools/shardsim/shrinker.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <utility>

#include "sim/runner/runner.h"
#include "sim/scenario/loader.h"
#include "sim/scenario/units.h"
#include "sim/scenario/writer.h"
#include "tools/shardsim/worker_pool.h"

namespace shardsim::tools {
namespace {

using scenario::format_duration;

// The child's report, one fact a line: "digest N", "passed 0|1", "count N", "v CHECKER AT_US",
// "e METRIC 0|1", "m METRIC VALUE". Names never hold spaces.
std::string encode(const sim::RunResult& r) {
  std::string out = fmt::format("digest {}\npassed {}\ncount {}\n", r.digest, r.passed ? 1 : 0,
                                r.violation_count);
  for (const auto& v : r.violations) out += fmt::format("v {} {}\n", v.checker, v.at.us());
  for (const auto& e : r.expectations)
    out += fmt::format("e {} {}\n", e.expectation.metric, e.passed ? 1 : 0);
  for (const auto& [name, value] : r.metrics) out += fmt::format("m {} {}\n", name, value);
  return out;
}

template <class T>
T number(const std::string& text) {
  T value{};
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

RunDigest decode(const std::string& text) {
  RunDigest d;
  d.ran = true;
  std::istringstream in{text};
  std::string key;
  std::string a;
  std::string b;
  while (in >> key >> a) {
    if (key == "digest") d.digest = number<std::uint64_t>(a);
    if (key == "passed") d.passed = a == "1";
    if (key == "count") d.violation_count = number<std::uint64_t>(a);
    if (key != "v" && key != "e" && key != "m") continue;
    in >> b;
    if (key == "v") d.violations.emplace_back(a, Time::from_micros(number<std::int64_t>(b)));
    if (key == "e") d.expectations.emplace_back(a, b == "1");
    if (key == "m") d.metrics[a] = std::stod(b);
  }
  return d;
}

// A list cut into n nearly equal consecutive chunks (the first ones one longer).
std::vector<std::vector<sim::RealizedFault>> chunks(const std::vector<sim::RealizedFault>& list,
                                                    std::size_t n) {
  std::vector<std::vector<sim::RealizedFault>> out(n);
  std::size_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t size = list.size() / n + (i < list.size() % n ? 1 : 0);
    out[i].assign(list.begin() + static_cast<std::ptrdiff_t>(at),
                  list.begin() + static_cast<std::ptrdiff_t>(at + size));
    at += size;
  }
  return out;
}

bool names_host(const scenario::FaultSpec& f, const std::string& host) {
  if (f.host == host || f.peer == host) return true;
  for (const auto& group : f.groups)
    if (std::find(group.begin(), group.end(), host) != group.end()) return true;
  return false;
}

std::string seconds(Time t) { return format_duration(t - Time::zero()); }

// d rounded up to a whole multiple of step.
Duration round_up(Duration d, Duration step) {
  return Duration::micros((d.us() + step.us() - 1) / step.us() * step.us());
}

}  // namespace

std::string ShrinkTarget::describe() const {
  return fmt::format("{} {}", kind == Kind::checker ? "checker" : "expectation on", name);
}

std::vector<std::string> RunDigest::failing() const {
  std::vector<std::string> out;
  for (const auto& [checker, at] : violations)
    if (std::find(out.begin(), out.end(), checker) == out.end()) out.push_back(checker);
  for (const auto& [metric, held] : expectations)
    if (!held && std::find(out.begin(), out.end(), metric) == out.end()) out.push_back(metric);
  return out;
}

bool RunDigest::fails(const ShrinkTarget& target) const {
  if (!ran) return false;
  if (target.kind == ShrinkTarget::Kind::expectation) {
    return std::any_of(expectations.begin(), expectations.end(),
                       [&](const auto& e) { return e.first == target.name && !e.second; });
  }
  if (first_violation(target.name)) return true;
  // The run keeps only its first violations: a checker crowded out of them still shows in its
  // metric (every checker counts under its own name).
  const auto m = metrics.find(target.name);
  return violation_count > violations.size() && m != metrics.end() && m->second > 0;
}

std::optional<Time> RunDigest::first_violation(const std::string& checker) const {
  for (const auto& [name, at] : violations)
    if (name == checker) return at;
  return std::nullopt;
}

std::string candidate_yaml(const Candidate& c, const std::vector<std::string>& header) {
  scenario::WriteOptions options;
  options.header = header;
  options.faults_yaml = c.faults.empty() ? std::string{} : sim::faults_to_yaml(c.faults);
  scenario::ScenarioSpec spec = c.spec;
  spec.faults.clear();
  return scenario::write_scenario(spec, options);
}

std::optional<RunDigest> run_isolated(const scenario::ScenarioSpec& spec, std::uint64_t seed) {
  PoolOptions pool;
  pool.jobs = 1;
  std::optional<RunDigest> out;
  const auto task = [&](std::size_t) {
    sim::RunOptions options;
    options.seed = seed;
    return encode(sim::run_scenario(spec, options));
  };
  const auto done = [&](TaskOutcome&& o) {
    if (o.exited_cleanly() && !o.result_overflow) {
      out = decode(o.result);
      return;
    }
    RunDigest d;
    d.ended_by = o.result_overflow ? "a report too long" : o.how_ended();
    const std::string tail = o.output_tail.substr(0, o.output_tail.find_last_not_of('\n') + 1);
    const std::size_t line = tail.rfind('\n');
    if (!tail.empty()) d.ended_by += ": " + tail.substr(line == std::string::npos ? 0 : line + 1);
    out = d;
  };
  if (run_pool(1, pool, task, done, [] {}) == PoolEnd::interrupted) return std::nullopt;
  return out;
}

Shrinker::Shrinker(ShrinkTarget target, std::uint64_t seed, int max_runs, std::FILE* log)
    : target_{std::move(target)}, seed_{seed}, max_runs_{max_runs}, log_{log} {}

std::optional<RunDigest> Shrinker::probe(const Candidate& c) {
  const std::string yaml = candidate_yaml(c);
  if (const auto hit = cache_.find(yaml); hit != cache_.end()) return hit->second;
  auto loaded = scenario::load_string(yaml, "candidate.yaml");
  if (!loaded.ok()) {
    ++refused_;
    cache_.emplace(yaml, std::nullopt);
    return std::nullopt;
  }
  if (!can_run()) return std::nullopt;
  ++runs_;
  auto result = run_isolated(*loaded.spec, seed_);
  if (!result) {
    interrupted_ = true;
    return std::nullopt;
  }
  if (!result->ran) ++crashed_;
  cache_.emplace(yaml, result);
  return result;
}

bool Shrinker::accept_if_fails(Candidate c, const std::string& what) {
  const auto result = probe(c);
  if (!result) return false;
  if (!result->ran) {
    fmt::print(log_, "  (candidate with {} ended by {}; not the target failure)\n", what,
               result->ended_by);
    return false;
  }
  if (!result->fails(target_)) return false;
  current_ = std::move(c);
  result_ = *result;
  ++accepted_;
  fmt::print(log_, "  {:<56} run {}\n", what, runs_);
  std::fflush(log_);
  return true;
}

void Shrinker::shrink(Candidate start, RunDigest result) {
  current_ = std::move(start);
  result_ = std::move(result);
  cut_duration();
  // A smaller world may need fewer faults or players than the first round found, so the rounds go
  // on until one changes nothing. Candidates already run are cached, so a quiet round is cheap.
  for (int round = 0; round < kRoundsMax && can_run(); ++round) {
    const int accepted = accepted_;
    ddmin_faults();
    fewer_players();
    simpler_partitions();
    fewer_nodes();
    fewer_cells();
    no_bots();
    if (accepted_ == accepted) break;
  }
  shortest_duration();
}

// The run cannot change before its end, so nothing after the target's first violation can matter;
// faults from the new end on are dropped (the loader wants every `at` before `duration`).
bool Shrinker::try_duration(Duration to, const char* why) {
  const Duration from = current_.spec.duration;
  if (to >= from || to <= Duration::zero()) return false;
  Candidate c = current_;
  c.spec.duration = to;
  std::erase_if(c.faults,
                [&](const sim::RealizedFault& f) { return f.spec.at >= Time::zero() + to; });
  std::string what =
      fmt::format("duration {} -> {} ({}", format_duration(from), format_duration(to), why);
  if (c.faults.size() != current_.faults.size())
    what += fmt::format("; faults {} -> {}", current_.faults.size(), c.faults.size());
  return accept_if_fails(std::move(c), what + ")");
}

std::optional<Time> Shrinker::first_violation() const {
  if (target_.kind != ShrinkTarget::Kind::checker) return std::nullopt;
  return result_.first_violation(target_.name);
}

void Shrinker::cut_duration() {
  if (const auto first = first_violation()) {
    try_duration(round_up(*first - Time::zero() + kMargin, Duration::seconds(1)),
                 "2s after the first violation");
  }
}

// The tick after the target's first violation; if that does not fail, a binary search in steps of
// kDurationStep between the longest duration seen to pass and the current one. An expectation has
// no time to start from, so its search starts from zero.
void Shrinker::shortest_duration() {
  Duration passes = Duration::zero();
  if (const auto first = first_violation()) {
    const Duration tight = round_up(*first - Time::zero() + current_.spec.tick, kDurationStep);
    if (tight >= current_.spec.duration || try_duration(tight, "a tick after the first violation"))
      return;
    passes = tight;
  }
  while (current_.spec.duration - passes > kDurationStep && can_run()) {
    const Duration mid = round_up(passes + (current_.spec.duration - passes) / 2, kDurationStep);
    if (mid >= current_.spec.duration) return;
    if (!try_duration(mid, "binary search")) passes = mid;
  }
}

// Zeller's ddmin: try each chunk alone, then each complement, refining the chunks when neither
// fails. The result is 1-minimal when runs do not run out: no single fault can be dropped.
void Shrinker::ddmin_faults() {
  const auto try_faults = [this](std::vector<sim::RealizedFault> faults, const char* how) {
    std::string what =
        fmt::format("faults {} -> {} ({})", current_.faults.size(), faults.size(), how);
    Candidate c = current_;
    c.faults = std::move(faults);
    return accept_if_fails(std::move(c), what);
  };
  if (current_.faults.empty() || try_faults({}, "none needed")) return;
  std::size_t n = 2;
  while (current_.faults.size() >= 2 && can_run()) {
    const auto parts = chunks(current_.faults, std::min(n, current_.faults.size()));
    bool reduced = false;
    for (const auto& part : parts) {
      if ((reduced = try_faults(part, "ddmin: a subset"))) break;
    }
    if (reduced) {
      n = 2;
      continue;
    }
    for (std::size_t i = 0; parts.size() > 2 && i < parts.size() && !reduced; ++i) {
      std::vector<sim::RealizedFault> rest;
      for (std::size_t j = 0; j < parts.size(); ++j)
        if (j != i) rest.insert(rest.end(), parts[j].begin(), parts[j].end());
      reduced = try_faults(std::move(rest), "ddmin: a complement");
    }
    if (reduced) {
      n = std::max<std::size_t>(n - 1, 2);
      continue;
    }
    if (n >= current_.faults.size()) break;
    n = std::min(n * 2, current_.faults.size());
  }
}

// Halve while it fails, then binary-search between the last count that passed and the last that
// failed (failure need not be monotone in the count; only failing counts are ever kept).
void Shrinker::fewer_players() {
  const auto try_count = [this](int count) {
    Candidate c = current_;
    const int from = c.spec.players.count;
    c.spec.players.count = count;
    return accept_if_fails(std::move(c), fmt::format("players {} -> {}", from, count));
  };
  int passed_at = -1;
  while (current_.spec.players.count > 0 && can_run()) {
    const int half = current_.spec.players.count / 2;
    if (!try_count(half)) {
      passed_at = half;
      break;
    }
  }
  if (passed_at < 0) return;
  int lo = passed_at;
  while (current_.spec.players.count - lo > 1 && can_run()) {
    const int mid = lo + (current_.spec.players.count - lo) / 2;
    if (!try_count(mid)) lo = mid;
  }
}

// A partition group need not list every host: a host in no group keeps all its links. Dropping
// hosts from groups (each group keeps one) frees nodes for fewer_nodes() and says more plainly
// which cut matters.
void Shrinker::simpler_partitions() {
  for (std::size_t i = 0; i < current_.faults.size() && can_run(); ++i) {
    if (current_.faults[i].spec.kind != scenario::FaultKind::partition) continue;
    for (std::size_t g = 0; g < current_.faults[i].spec.groups.size() && can_run(); ++g) {
      // From the back, so that a removal leaves the indices still to visit in place.
      for (std::size_t h = current_.faults[i].spec.groups[g].size(); h-- > 0 && can_run();) {
        auto& group = current_.faults[i].spec.groups[g];
        if (group.size() < 2) break;
        Candidate c = current_;
        auto& shorter = c.faults[i].spec.groups[g];
        shorter.erase(shorter.begin() + static_cast<std::ptrdiff_t>(h));
        accept_if_fails(std::move(c), fmt::format("fault at {}: {} left out of its partition",
                                                  seconds(current_.faults[i].spec.at), group[h]));
      }
    }
  }
}

// Nodes that no fault names go, the last first: while only trailing nodes go the names left
// (node-1..node-k) are what a count gives; after that the writer lists the names.
void Shrinker::fewer_nodes() {
  for (std::size_t i = current_.spec.node_names.size(); i-- > 0 && can_run();) {
    const auto& names = current_.spec.node_names;
    if (names.size() < 2) return;
    const std::string node = names[i];
    const bool named =
        std::any_of(current_.faults.begin(), current_.faults.end(),
                    [&](const sim::RealizedFault& f) { return names_host(f.spec, node); });
    if (named) continue;
    Candidate c = current_;
    c.spec.node_names.erase(c.spec.node_names.begin() + static_cast<std::ptrdiff_t>(i));
    accept_if_fails(std::move(c), fmt::format("nodes {} -> {} (without {})", names.size(),
                                              names.size() - 1, node));
  }
}

// Both axes halved, else one; the loader refuses what does not divide the world or leaves cells
// too small for the AOI, and such a candidate costs no run.
void Shrinker::fewer_cells() {
  bool reduced = true;
  while (reduced && can_run()) {
    reduced = false;
    const int x = current_.spec.world.cells_x;
    const int y = current_.spec.world.cells_y;
    const std::pair<int, int> options[] = {{x / 2, y / 2}, {x / 2, y}, {x, y / 2}};
    for (const auto& [nx, ny] : options) {
      if (nx < 1 || ny < 1 || (nx == x && ny == y)) continue;
      Candidate c = current_;
      c.spec.world.cells_x = nx;
      c.spec.world.cells_y = ny;
      if ((reduced =
               accept_if_fails(std::move(c), fmt::format("cells {}x{} -> {}x{}", x, y, nx, ny))))
        break;
    }
  }
}

void Shrinker::no_bots() {
  const auto& b = current_.spec.bots;
  if (b.density_max == 0) return;
  Candidate c = current_;
  c.spec.bots = scenario::BotsSpec{};
  accept_if_fails(std::move(c),
                  fmt::format("NPCs [{}, {}] per cell -> none", b.density_min, b.density_max));
}

}  // namespace shardsim::tools
