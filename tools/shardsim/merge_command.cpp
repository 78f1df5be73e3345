#include "tools/shardsim/merge_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "tools/shardsim/atomic_file.h"
#include "tools/shardsim/sweep_record.h"
#include "tools/shardsim/sweep_summary.h"

namespace shardsim::tools {
namespace {

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitBadInput = 2;
constexpr std::size_t kErrorsShownMax = 20;

// Reads every record of every file; false (with the problems printed) if any line is bad.
bool read_all(const std::vector<std::string>& paths, std::vector<SweepRecord>& records) {
  std::size_t errors = 0;
  auto complain = [&](const std::string& message) {
    if (++errors <= kErrorsShownMax) std::fprintf(stderr, "%s\n", message.c_str());
  };
  for (const auto& path : paths) {
    std::error_code ec;
    std::ifstream in{path};
    if (!in || std::filesystem::is_directory(path, ec)) {
      complain(fmt::format("{}: error: cannot read the file", path));
      continue;
    }
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      std::string error;
      if (auto r = parse_record(line, error))
        records.push_back(std::move(*r));
      else
        complain(fmt::format("{}:{}: error: {}", path, number, error));
    }
  }
  if (errors > kErrorsShownMax)
    std::fprintf(stderr, "... and %zu more error(s)\n", errors - kErrorsShownMax);
  return errors == 0;
}

}  // namespace

void add_merge_options(CLI::App& app, MergeOptions& o) {
  app.add_option("files", o.inputs, "JSONL results files written by `shardsim sweep --out`")
      ->required();
  app.add_option("--out", o.out,
                 "Write the merged, sorted, de-duplicated lines to FILE (atomically)");
  app.footer(
      "Example (four shards of one sweep):\n"
      "  shardsim merge chaos-0.jsonl chaos-1.jsonl chaos-2.jsonl chaos-3.jsonl --out chaos.jsonl\n"
      "Exit codes: 0 all passed, 1 a run failed, crashed or was nondeterministic, 2 bad input.");
}

int run_merge(const MergeOptions& options) {
  std::vector<SweepRecord> records;
  if (!read_all(options.inputs, records)) return kExitBadInput;
  std::stable_sort(records.begin(), records.end(), [](const SweepRecord& a, const SweepRecord& b) {
    return std::tie(a.scenario, a.seed) < std::tie(b.scenario, b.seed);
  });

  AtomicFile out;
  std::string error;
  if (!options.out.empty() && !out.open(options.out, error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitBadInput;
  }
  SweepSummary summary;
  std::size_t kept = 0;
  std::size_t duplicates = 0;
  std::size_t first =
      0;  // the kept record of the current (scenario, seed): first in argument order
  for (std::size_t i = 0; i < records.size(); ++i) {
    const SweepRecord& r = records[i];
    if (i > 0 && r.scenario == records[first].scenario && r.seed == records[first].seed) {
      if (r.fingerprint() != records[first].fingerprint())
        summary.add_nondeterministic(records[first], r.fingerprint());
      ++duplicates;
      continue;
    }
    first = i;
    summary.add(r);
    out.write_line(r.line);
    ++kept;
  }
  if (!out.commit(error)) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return kExitBadInput;
  }
  std::printf("merge      %zu file(s), %zu run(s), %zu duplicate(s) dropped\n",
              options.inputs.size(), kept, duplicates);
  if (!options.out.empty())
    std::printf("results    %zu line(s) in %s\n", kept, options.out.c_str());
  std::printf("\n");
  summary.print(stdout, std::nullopt);
  return summary.all_passed() ? kExitPass : kExitFail;
}

}  // namespace shardsim::tools
