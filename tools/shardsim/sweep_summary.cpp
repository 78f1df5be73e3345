#include "tools/shardsim/sweep_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace shardsim::tools {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool by_pair(const SweepRecord& a, const SweepRecord& b) {
  return std::tie(a.scenario, a.seed) < std::tie(b.scenario, b.seed);
}

}  // namespace

void SweepSummary::add(const SweepRecord& r) {
  for (Tally* t : {&by_scenario_[r.scenario], &total_}) {
    ++t->runs;
    t->wall_ms_sum += r.wall_ms;
    if (r.verdict == Verdict::pass) ++t->passed;
    if (r.verdict == Verdict::fail) ++t->failed;
    if (r.verdict == Verdict::crash) ++t->crashed;
  }
  if (r.verdict != Verdict::pass) {
    failed_.push_back(r);
    failed_.back().line.clear();  // the summary needs the fields, not the text
  }
}

void SweepSummary::add_nondeterministic(const SweepRecord& first, const std::string& other) {
  ++by_scenario_[first.scenario].nondeterministic;
  ++total_.nondeterministic;
  nondeterministic_.push_back({first, other});
  nondeterministic_.back().first.line.clear();
}

void SweepSummary::set_elapsed(const std::string& scenario, double seconds) {
  by_scenario_[scenario].elapsed = seconds;
}

void SweepSummary::print_row(std::FILE* out, const std::string& name, const Tally& t) const {
  const std::string rate = t.elapsed && *t.elapsed > 0
                               ? fmt::format("{:.2f}", static_cast<double>(t.runs) / *t.elapsed)
                               : "-";
  const std::string mean =
      t.runs > 0 ? fmt::format("{}", (t.wall_ms_sum + t.runs / 2) / t.runs) : std::string{"-"};
  fmt::print(out, "{:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}\n", name, t.runs, t.passed,
             t.failed, t.crashed, t.nondeterministic, rate, mean);
}

void SweepSummary::print(std::FILE* out, std::optional<double> elapsed_total) const {
  fmt::print(out, "{:<28} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}\n", "scenario", "runs",
             "passed", "failed", "crashed", "nondet", "runs/s", "mean ms");
  for (const auto& [name, tally] : by_scenario_) print_row(out, name, tally);
  if (by_scenario_.size() != 1) {
    Tally total = total_;
    total.elapsed = elapsed_total;
    print_row(out, "all", total);
  }

  auto failed = failed_;
  std::sort(failed.begin(), failed.end(), by_pair);
  if (!failed.empty()) fmt::print(out, "\nfailures ({}):\n", failed.size());
  for (const auto& r : failed) {
    const std::string why =
        r.verdict == Verdict::crash ? fmt::format("{}: {}", r.signal, r.error) : join(r.failing);
    fmt::print(out, "{:<5} {} seed {}: {}\n", r.verdict == Verdict::crash ? "CRASH" : "FAIL",
               r.scenario, r.seed, why);
    if (!r.swarm.empty()) fmt::print(out, "      {}\n", r.swarm);
    fmt::print(out, "      {}\n", r.replay);
  }

  auto nondet = nondeterministic_;
  std::sort(nondet.begin(), nondet.end(), [](const Nondeterministic& a, const Nondeterministic& b) {
    return by_pair(a.first, b.first);
  });
  if (!nondet.empty()) fmt::print(out, "\nnondeterministic ({}):\n", nondet.size());
  for (const auto& n : nondet) {
    fmt::print(out, "NONDET {} seed {}: {} first, {} on the other run\n", n.first.scenario,
               n.first.seed, n.first.fingerprint(), n.other);
    fmt::print(out, "      {}\n", n.first.replay);
  }
}

}  // namespace shardsim::tools
