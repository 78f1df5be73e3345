#include "sim/runner/determinism.h"

#include <fmt/format.h>

namespace shardsim::sim {

DeterminismReport check_determinism(const scenario::ScenarioSpec& spec, RunOptions options) {
  DeterminismReport report;
  options.trace_path.clear();
  options.hashing = true;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ca;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> cb;
  options.trace_checkpoints = &ca;
  report.run = run_scenario(spec, options);
  report.digest_a = report.run.digest;
  options.trace_checkpoints = &cb;
  report.digest_b = run_scenario(spec, options).digest;
  report.same = report.digest_a == report.digest_b;
  if (report.same) return report;

  // The first checkpoint that differs bounds the first differing record: it lies after the
  // previous checkpoint's record count and before this one's.
  std::uint64_t from = 0;
  std::uint64_t to = UINT64_MAX;
  for (std::size_t i = 0; i < ca.size() && i < cb.size(); ++i) {
    if (ca[i] == cb[i]) {
      from = ca[i].first;
      continue;
    }
    to = std::max(ca[i].first, cb[i].first) + 1;
    break;
  }
  if (to == UINT64_MAX) to = from + 100'000;  // the runs agree up to one's end: look just beyond
  options.trace_checkpoints = nullptr;
  std::vector<TraceRecord> ra;
  std::vector<TraceRecord> rb;
  options.capture_from = from;
  options.capture_to = to;
  options.trace_capture = &ra;
  run_scenario(spec, options);
  options.trace_capture = &rb;
  run_scenario(spec, options);
  for (std::size_t i = 0; i < ra.size() || i < rb.size(); ++i) {
    if (i < ra.size() && i < rb.size() && ra[i].same_as(rb[i])) continue;
    if (i < ra.size()) report.first_a = ra[i];
    if (i < rb.size()) report.first_b = rb[i];
    return report;
  }
  report.note = fmt::format(
      "records {}..{} agree in both runs: the runs differ in a delivered payload there", from, to);
  return report;
}

}  // namespace shardsim::sim
