#include "tools/shardsim/sweep_record.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "tools/shardsim/json_value.h"
#include "tools/shardsim/report.h"

namespace shardsim::tools {
namespace {

// The metrics a sweep line carries: enough to triage a failure without a rerun.
constexpr std::array<std::string_view, 9> kLineMetrics = {"handover.cross_node.count",
                                                          "handover.cross_node.latency.p99",
                                                          "handover.failure_rate",
                                                          "players.lost",
                                                          "players.duplicated",
                                                          "split_brain.violations",
                                                          "ledger.acked_lost",
                                                          "liveness.violations",
                                                          "events"};

// Metrics fed by a violation checker (sim/checkers). A run keeps only its first violations in
// detail, so a checker whose violations came later is found by its count.
constexpr std::array<std::string_view, 11> kCheckerMetrics = {
    "players.lost",          "players.duplicated",      "aoi.continuity_violations",
    "aoi.oracle_mismatches", "bots.density_violations", "split_brain.violations",
    "epoch.violations",      "migration.lost",          "ledger.corrupt",
    "ledger.acked_lost",     "liveness.violations"};

void add_unique(std::vector<std::string>& names, std::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
}

std::string string_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (std::size_t i = 0; i < names.size(); ++i)
    out += fmt::format("{}\"{}\"", i ? ", " : "", json_escape(names[i]));
  return out + "]";
}

bool is_hex_digest(std::string_view s) {
  if (s.size() != 16) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

const std::string* string_member(const JsonValue& v, std::string_view key, std::string& error) {
  const JsonValue* m = v.find(key);
  if (m == nullptr || !m->is_string()) {
    error = fmt::format("\"{}\" must be a string", key);
    return nullptr;
  }
  return &m->string();
}

std::optional<std::uint64_t> u64_member(const JsonValue& v, std::string_view key,
                                        std::string& error) {
  const JsonValue* m = v.find(key);
  auto n = m != nullptr ? m->as_u64() : std::nullopt;
  if (!n) error = fmt::format("\"{}\" must be a non-negative integer", key);
  return n;
}

}  // namespace

const char* verdict_text(Verdict v) {
  switch (v) {
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
    case Verdict::crash:
      return "crash";
  }
  return "?";
}

std::string SweepRecord::fingerprint() const {
  return verdict == Verdict::crash ? "crash (" + signal + ")" : digest;
}

std::vector<std::string> failing_names(const sim::RunResult& r) {
  std::vector<std::string> names;
  if (r.passed) return names;
  for (const auto& v : r.violations) add_unique(names, v.checker);
  for (const auto& [name, value] : r.metrics)
    if (value > 0 &&
        std::find(kCheckerMetrics.begin(), kCheckerMetrics.end(), name) != kCheckerMetrics.end())
      add_unique(names, name);
  for (const auto& e : r.expectations)
    if (!e.passed) add_unique(names, e.expectation.metric);
  return names;
}

std::string record_members(const sim::RunResult& r) {
  std::string m = fmt::format(
      "\"scenario\": \"{}\", \"file\": \"{}\", \"seed\": {}, \"verdict\": \"{}\", \"digest\": "
      "\"{}\", \"failing\": {}, ",
      json_escape(r.scenario), json_escape(r.file), r.seed, r.passed ? "pass" : "fail",
      r.digest_hex(), string_list(failing_names(r)));
  if (r.swarm_run) m += fmt::format("\"swarm\": \"{}\", ", json_escape(r.swarm));
  m += "\"metrics\": {";
  for (std::size_t i = 0; i < kLineMetrics.size(); ++i)
    m += fmt::format("{}\"{}\": {}", i ? ", " : "", kLineMetrics[i],
                     json_number(r.metric(kLineMetrics[i])));
  m += fmt::format("}}, \"replay\": \"{}\"", json_escape(r.replay_command()));
  return m;
}

std::string crash_members(std::string_view scenario, std::string_view file, std::uint64_t seed,
                          std::string_view signal, std::string_view error, bool swarm) {
  return fmt::format(
      "\"scenario\": \"{}\", \"file\": \"{}\", \"seed\": {}, \"verdict\": \"crash\", \"digest\": "
      "\"\", "
      "\"failing\": [], \"signal\": \"{}\", \"error\": \"{}\", \"metrics\": {{}}, "
      "\"replay\": \"shardsim replay {} --seed {}{}\"",
      json_escape(scenario), json_escape(file), seed, json_escape(signal), json_escape(error),
      json_escape(file), seed, swarm ? " --swarm" : "");
}

std::string finish_line(std::string_view members, std::uint64_t wall_ms) {
  return fmt::format("{{{}, \"wall_ms\": {}}}", members, wall_ms);
}

std::optional<SweepRecord> parse_record(std::string_view line, std::string& error) {
  auto parsed = parse_json(line);
  if (!parsed.value) {
    error = "not JSON: " + parsed.error;
    return std::nullopt;
  }
  const JsonValue& v = *parsed.value;
  if (!v.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  SweepRecord r;
  r.line = std::string{line};
  const std::string* scenario = string_member(v, "scenario", error);
  const std::string* file = string_member(v, "file", error);
  const std::string* verdict = string_member(v, "verdict", error);
  const std::string* digest = string_member(v, "digest", error);
  const std::string* replay = string_member(v, "replay", error);
  const auto seed = u64_member(v, "seed", error);
  const auto wall_ms = u64_member(v, "wall_ms", error);
  if (!scenario || !file || !verdict || !digest || !replay || !seed || !wall_ms)
    return std::nullopt;
  if (scenario->empty()) {
    error = "\"scenario\" is empty";
    return std::nullopt;
  }
  r.scenario = *scenario;
  r.file = *file;
  r.seed = *seed;
  r.digest = *digest;
  r.replay = *replay;
  r.wall_ms = *wall_ms;
  if (*verdict == "pass") {
    r.verdict = Verdict::pass;
  } else if (*verdict == "fail") {
    r.verdict = Verdict::fail;
  } else if (*verdict == "crash") {
    r.verdict = Verdict::crash;
  } else {
    error = fmt::format("\"verdict\" must be pass, fail or crash, not \"{}\"", *verdict);
    return std::nullopt;
  }
  if (const JsonValue* s = v.find("swarm"); s != nullptr && s->is_string()) r.swarm = s->string();
  if (r.verdict == Verdict::crash) {
    const std::string* signal = string_member(v, "signal", error);
    if (signal == nullptr) return std::nullopt;
    r.signal = *signal;
    if (const JsonValue* e = v.find("error"); e != nullptr && e->is_string()) r.error = e->string();
  } else if (!is_hex_digest(r.digest)) {
    error = fmt::format("\"digest\" must be 16 lowercase hex digits, not \"{}\"", r.digest);
    return std::nullopt;
  }
  const JsonValue* failing = v.find("failing");
  if (failing == nullptr || !failing->is_array()) {
    error = "\"failing\" must be an array of names";
    return std::nullopt;
  }
  for (const auto& name : failing->items()) {
    if (!name.is_string()) {
      error = "\"failing\" must be an array of names";
      return std::nullopt;
    }
    r.failing.push_back(name.string());
  }
  const JsonValue* metrics = v.find("metrics");
  if (metrics == nullptr || !metrics->is_object()) {
    error = "\"metrics\" must be an object";
    return std::nullopt;
  }
  return r;
}

}  // namespace shardsim::tools
