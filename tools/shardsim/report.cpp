#include "tools/shardsim/report.h"

#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "sim/runner/message_types.h"
#include "sim/runner/metrics.h"

namespace shardsim::tools {
namespace {

std::string format_value(std::string_view metric, double v) {
  const auto info = find_metric(metric);
  if (info && info->unit == MetricUnit::duration_ms) return fmt::format("{:.3f}ms", v);
  if (info && info->unit == MetricUnit::percent) return fmt::format("{:.3f}%", v);
  if (info && info->unit == MetricUnit::ratio) return fmt::format("{:.3f}", v);
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{:.2f}", v);
}

// The net.msg.<type>.* metrics as one table, a row per type that occurred (in the run's order),
// with each type's mean size and share of the bytes, and the totals (net.messages, net.bytes).
void print_messages_by_type(std::FILE* out, const sim::RunResult& r) {
  const double total_bytes = r.metric("net.bytes");
  bool header = false;
  for (const auto& [name, messages] : r.metrics) {
    const auto m = split_message_metric(name);
    if (!m || m->unit != MetricUnit::count) continue;
    if (!header) {
      fmt::print(out, "\n{:<30} {:>14} {:>14} {:>10} {:>8}\n", "message type", "messages", "bytes",
                 "bytes/msg", "bytes %");
      header = true;
    }
    const double bytes = r.metric(sim::message_bytes_metric(m->type));
    fmt::print(out, "{:<30} {:>14} {:>14} {:>10.1f} {:>8.1f}\n", m->type,
               format_value(name, messages), format_value(name, bytes),
               messages > 0 ? bytes / messages : 0.0,
               total_bytes > 0 ? 100.0 * bytes / total_bytes : 0.0);
  }
  if (!header) return;
  const double messages = r.metric("net.messages");
  fmt::print(out, "{:<30} {:>14} {:>14} {:>10.1f} {:>8.1f}\n", "total", format_value("", messages),
             format_value("", total_bytes), messages > 0 ? total_bytes / messages : 0.0,
             total_bytes > 0 ? 100.0 : 0.0);
}

// The node.<name>.* metrics as one table: a row per node (in the run's order, the scenario's), a
// column per field (kNodeFields' order), and a row of totals at the end of the run (peaks are per
// node and do not add up). A Phase A run has none.
void print_node_load(std::FILE* out, const sim::RunResult& r) {
  constexpr std::size_t kFields = std::size(kNodeFields);
  struct Row {
    std::string_view node;
    double v[kFields]{};
  };
  std::vector<Row> rows;
  for (const auto& [name, value] : r.metrics) {
    const auto m = split_node_metric(name);
    if (!m) continue;
    if (rows.empty() || rows.back().node != m->node) rows.push_back({m->node});
    rows.back().v[static_cast<std::size_t>(m->field - kNodeFields)] = value;
  }
  if (rows.empty()) return;
  std::string line = fmt::format("\n{:<30}", "node (load: players + NPCs)");
  for (const auto& f : kNodeFields) line += fmt::format(" {:>12}", f.name);
  fmt::print(out, "{}\n", line);
  double total[kFields]{};
  for (const Row& row : rows) {
    line = fmt::format("{:<30}", row.node);
    for (std::size_t f = 0; f < kFields; ++f) {
      total[f] += row.v[f];
      line += fmt::format(" {:>12}", format_value("", row.v[f]));
    }
    fmt::print(out, "{}\n", line);
  }
  line = fmt::format("{:<30}", "total");
  for (std::size_t f = 0; f < kFields; ++f) {
    const bool peak = kNodeFields[f].name.ends_with(".peak");
    line += fmt::format(" {:>12}", peak ? "" : format_value("", total[f]));
  }
  fmt::print(out, "{}\n", line.substr(0, line.find_last_not_of(' ') + 1));
}

}  // namespace

std::string json_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{:.6g}", v);
}

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  return out;
}

void print_summary(std::FILE* out, const sim::RunResult& r) {
  const double speed = r.wall_seconds > 0 ? r.sim_seconds / r.wall_seconds : 0;
  fmt::print(out, "scenario   {} ({})\n", r.scenario, r.file);
  fmt::print(out, "seed       {}\n", r.seed);
  fmt::print(out, "simulated  {:.1f} s   wall {:.3f} s   speed {:.0f}x real time\n", r.sim_seconds,
             r.wall_seconds, speed);
  fmt::print(out, "events     {}   trace records {}\n", r.events, r.trace_records);
  // The checkers first: they are the verdict. Then every metric.
  fmt::print(out, "\n{:<30} {:>14}  {}\n", "checker", "violations", "verdict");
  std::vector<const char*> checkers = {"players.lost", "players.duplicated",
                                        "aoi.continuity_violations", "aoi.oracle_mismatches",
                                        "bots.density_violations"};
  if (r.metric("net.cluster.messages") > 0) {  // a cluster run: its checkers too
    for (const char* name : {"split_brain.violations", "epoch.violations", "ledger.acked_lost",
                             "ledger.corrupt", "migration.lost", "liveness.violations"})
      checkers.push_back(name);
  }
  for (const char* name : checkers) {
    const double v = r.metric(name);
    fmt::print(out, "{:<30} {:>14}  {}\n", name, format_value(name, v), v == 0 ? "ok" : "FAILED");
  }
  fmt::print(out, "\n{:<30} {:>14}\n", "metric", "value");
  for (const auto& [name, value] : r.metrics)
    if (!split_message_metric(name) && !split_node_metric(name))  // their own tables, below
      fmt::print(out, "{:<30} {:>14}\n", name, format_value(name, value));
  print_node_load(out, r);
  print_messages_by_type(out, r);
  if (!r.expectations.empty()) {
    fmt::print(out, "\n{:<42} {:>14}  {}\n", "expectation", "actual", "verdict");
    for (const auto& e : r.expectations) {
      fmt::print(out, "{:<42} {:>14}  {}\n",
                 fmt::format("{} {}", e.expectation.metric, e.expectation.text),
                 format_value(e.expectation.metric, e.actual), e.passed ? "ok" : "FAILED");
    }
  }
  if (r.violation_count > 0) {
    fmt::print(out, "\nviolations ({} in all; first {}):\n", r.violation_count, r.violations.size());
    for (const auto& v : r.violations)
      fmt::print(out, "  {} at t={:.6f}s entity {}: {}\n", v.checker,
                 static_cast<double>(v.at.us()) / 1e6, v.entity, v.detail);
  }
  fmt::print(out, "\ndigest     {}\n", r.digest_hex());
  fmt::print(out, "verdict    {}\n", r.passed ? "PASS" : "FAIL");
  if (!r.passed) fmt::print(out, "replay     {}\n", r.replay_command());
}

bool write_json(const std::string& path, const sim::RunResult& r, std::string& error) {
  std::string j = "{\n";
  j += fmt::format("  \"scenario\": \"{}\",\n", json_escape(r.scenario));
  j += fmt::format("  \"file\": \"{}\",\n", json_escape(r.file));
  j += fmt::format("  \"seed\": {},\n", r.seed);
  j += fmt::format("  \"digest\": \"{}\",\n", r.digest_hex());
  j += fmt::format("  \"sim_seconds\": {},\n", json_number(r.sim_seconds));
  j += fmt::format("  \"wall_seconds\": {:.6f},\n", r.wall_seconds);
  j += fmt::format("  \"speedup\": {:.2f},\n", r.wall_seconds > 0 ? r.sim_seconds / r.wall_seconds : 0);
  j += fmt::format("  \"events\": {},\n", r.events);
  j += fmt::format("  \"verdict\": \"{}\",\n", r.passed ? "pass" : "fail");
  j += fmt::format("  \"replay\": \"{}\",\n", json_escape(r.replay_command()));
  j += "  \"notes\": [";
  for (std::size_t i = 0; i < r.notes.size(); ++i)
    j += fmt::format("{}\"{}\"", i ? ", " : "", json_escape(r.notes[i]));
  j += "],\n";
  j += "  \"violations\": [";
  for (std::size_t i = 0; i < r.violations.size(); ++i) {
    const auto& v = r.violations[i];
    j += fmt::format("{}\n    {{\"checker\": \"{}\", \"t_us\": {}, \"entity\": {}, \"detail\": \"{}\"}}",
                     i ? "," : "", v.checker, v.at.us(), v.entity, json_escape(v.detail));
  }
  j += r.violations.empty() ? "],\n" : "\n  ],\n";
  j += fmt::format("  \"violation_count\": {},\n", r.violation_count);
  j += "  \"metrics\": {";
  for (std::size_t i = 0; i < r.metrics.size(); ++i)
    j += fmt::format("{}\n    \"{}\": {}", i ? "," : "", r.metrics[i].first,
                     json_number(r.metrics[i].second));
  j += "\n  },\n  \"expectations\": [";
  for (std::size_t i = 0; i < r.expectations.size(); ++i) {
    const auto& e = r.expectations[i];
    j += fmt::format("{}\n    {{\"metric\": \"{}\", \"expect\": \"{}\", \"actual\": {}, \"passed\": {}}}",
                     i ? "," : "", e.expectation.metric, json_escape(e.expectation.text),
                     json_number(e.actual), e.passed ? "true" : "false");
  }
  j += r.expectations.empty() ? "]\n}\n" : "\n  ]\n}\n";

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    error = fmt::format("cannot write {}", path);
    return false;
  }
  const bool written = std::fwrite(j.data(), 1, j.size(), f) == j.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    error = fmt::format("cannot write {}", path);
    return false;
  }
  return true;
}

}  // namespace shardsim::tools
