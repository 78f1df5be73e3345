#include "sim/scenario/writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "engine/core/assert.h"
#include "sim/runner/faults.h"
#include "sim/scenario/units.h"

namespace shardsim::scenario {
namespace {

// A double-quoted YAML scalar: always safe, whatever the text (`null`, `1.5`, `: `, newlines).
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

// A node name as written: plain when YAML cannot read it as anything but that string. The loader
// allows [a-z][a-z0-9-]*, which still admits YAML's words for booleans and null.
std::string node_name(std::string_view name) {
  static constexpr std::string_view kWords[] = {"true", "false", "yes", "no", "on",
                                                "off",  "null",  "y",   "n"};
  const bool word = std::find(std::begin(kWords), std::end(kWords), name) != std::end(kWords);
  const bool plain = !name.empty() && name.front() >= 'a' && name.front() <= 'z' &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                     });
  return plain && !word ? std::string{name} : quoted(name);
}

std::string pair(const std::string& a, const std::string& b) {
  return fmt::format("[{}, {}]", a, b);
}

std::string latency_text(const net::LatencySpec& l) {
  switch (l.kind) {
    case net::LatencyKind::constant: return format_duration(l.a);
    case net::LatencyKind::uniform:
      return fmt::format("{{distribution: uniform, min: {}, max: {}}}", format_duration(l.a),
                         format_duration(l.b));
    case net::LatencyKind::normal:
      return fmt::format("{{distribution: normal, mean: {}, stddev: {}}}", format_duration(l.a),
                         format_duration(l.b));
    case net::LatencyKind::lognormal:
      return fmt::format("{{distribution: lognormal, median: {}, p99: {}}}", format_duration(l.a),
                         format_duration(l.b));
  }
  SHARD_ASSERT_MSG(false, "latency kind {} has no text", static_cast<int>(l.kind));
  return {};
}

std::string_view movement_text(Movement m) {
  switch (m) {
    case Movement::random_waypoint: return "random-waypoint";
    case Movement::border_oscillation: return "border-oscillation";
    case Movement::hotspot: return "hotspot";
  }
  return "random-waypoint";
}

std::string_view bug_text(Bug b) {
  switch (b) {
    case Bug::skip_lease_check: return "skip_lease_check";
    case Bug::ack_before_durable: return "ack_before_durable";
    case Bug::unfenced_abort: return "unfenced_abort";
    case Bug::ghost_gap: return "ghost_gap";
    case Bug::ghost_no_corners: return "ghost_no_corners";
  }
  return "skip_lease_check";
}

// "1.25" from mantissa 125 at scale 2, without trailing zeros.
std::string decimal_text(std::int64_t mantissa, int scale) {
  std::int64_t pow10 = 1;
  for (int i = 0; i < scale; ++i) pow10 *= 10;
  std::string out = fmt::format("{}", mantissa / pow10);
  if (scale == 0 || mantissa % pow10 == 0) return out;
  std::string digits = fmt::format("{:0{}}", mantissa % pow10, scale);
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

// The names the nodes would get from a count, node-1..node-N.
bool numbered_nodes(const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] != fmt::format("node-{}", i + 1)) return false;
  }
  return true;
}

void write_world(std::string& out, const WorldSpec& w) {
  out += "world:\n";
  out += fmt::format("  size: {}\n",
                     pair(format_distance_mm(w.width_mm), format_distance_mm(w.height_mm)));
  out += fmt::format("  cells: [{}, {}]\n", w.cells_x, w.cells_y);
  out += fmt::format("  aoi_radius: {}\n", format_distance_mm(w.aoi_radius_mm));
  out += fmt::format("  hysteresis: {}\n", format_distance_mm(w.hysteresis_mm));
  out += fmt::format("  handover_dwell: {}\n", format_duration(w.handover_dwell));
}

void write_cluster(std::string& out, const ScenarioSpec& spec) {
  const ClusterSpec& c = spec.cluster;
  out += "cluster:\n";
  if (numbered_nodes(spec.node_names)) {
    out += fmt::format("  nodes: {}\n", spec.node_names.size());
  } else {
    std::string names;
    for (const auto& n : spec.node_names) names += (names.empty() ? "" : ", ") + node_name(n);
    out += fmt::format("  nodes: [{}]\n", names);
  }
  out += fmt::format("  gateways: {}\n", c.gateways);
  out += fmt::format("  assignment: {}\n",
                     c.assignment == Assignment::rendezvous ? "rendezvous" : "least-loaded");
  out += fmt::format("  lease: {}\n", format_duration(c.lease));
  out += fmt::format("  heartbeat: {}\n", format_duration(c.heartbeat));
  out += fmt::format("  checkpoint: {}\n", format_duration(c.checkpoint));
  out += fmt::format("  clock_drift_max: {}\n", format_duration(c.clock_drift_max));
  out += fmt::format("  cross_node: {}\n", c.cross_node ? "true" : "false");
}

void write_players(std::string& out, const PlayersSpec& p) {
  out += "players:\n";
  out += fmt::format("  count: {}\n", p.count);
  if (p.hotspot.enabled) {
    const HotspotSpawn& h = p.hotspot;
    out += fmt::format("  spawn: {{hotspot: {{center: {}, radius: {}, fraction: {}}}}}\n",
                       pair(format_distance_mm(h.center.x), format_distance_mm(h.center.y)),
                       format_distance_mm(h.radius_mm), format_ppm_percent(h.fraction_ppm));
  } else {
    out += "  spawn: uniform\n";
  }
  out += fmt::format("  movement: {}\n", movement_text(p.movement));
  out += fmt::format("  speed: {}\n", pair(format_speed_mm_s(p.speed_min_mm_s),
                                           format_speed_mm_s(p.speed_max_mm_s)));
  if (p.action_every > Duration::zero()) {
    out += fmt::format("  actions: {}\n", rate_text(p.action_every));
  }
}

void write_bots(std::string& out, const BotsSpec& b) {
  const BotsSpec none;
  const bool is_default = b.density_min == none.density_min && b.density_max == none.density_max &&
                          b.speed_min_mm_s == none.speed_min_mm_s &&
                          b.speed_max_mm_s == none.speed_max_mm_s;
  if (is_default) return;  // no NPCs: the section left out reads back the same
  out += "bots:\n";
  out += fmt::format("  density: [{}, {}]\n", b.density_min, b.density_max);
  out += fmt::format("  speed: {}\n", pair(format_speed_mm_s(b.speed_min_mm_s),
                                           format_speed_mm_s(b.speed_max_mm_s)));
}

void write_network(std::string& out, const net::LinkConfig& n) {
  out += "network:\n";
  out += fmt::format("  latency: {}\n", latency_text(n.latency));
  out += fmt::format("  loss: {}\n", format_ppm_percent(n.loss_ppm));
  out += fmt::format("  duplicate: {}\n", format_ppm_percent(n.duplicate_ppm));
  out += fmt::format("  reorder: {}\n", format_ppm_percent(n.reorder_ppm));
}

void write_chaos(std::string& out, const ChaosSpec& c) {
  if (!c.enabled()) return;
  out += "chaos:\n";
  out += fmt::format("  until: {}\n", format_duration(c.until - Time::zero()));
  const std::array<std::tuple<std::string_view, std::string_view, const ChaosKind*>, 3> kinds{
      {{"crash", "restart_after", &c.crash},
       {"partition", "for", &c.partition},
       {"pause", "for", &c.pause}}};
  for (const auto& [key, range_key, kind] : kinds) {
    if (!kind->enabled()) continue;
    out += fmt::format("  {}: {{rate: {}, {}: {}}}\n", key, rate_text(kind->mean_interval),
                       range_key, pair(format_duration(kind->min), format_duration(kind->max)));
  }
}

void write_faults(std::string& out, const ScenarioSpec& spec, const WriteOptions& options) {
  if (!options.faults_yaml.empty()) {
    out += options.faults_yaml;
    if (out.back() != '\n') out += '\n';
    return;
  }
  if (spec.faults.empty()) return;
  std::vector<sim::RealizedFault> faults;
  for (const auto& f : spec.faults) faults.push_back({f, false});
  out += sim::faults_to_yaml(faults);
}

void write_tail(std::string& out, const ScenarioSpec& spec) {
  if (!spec.bugs.empty()) {
    std::string names;
    for (const Bug b : spec.bugs)
      names += fmt::format("{}{}", names.empty() ? "" : ", ", bug_text(b));
    out += fmt::format("bugs: [{}]\n", names);
  }
  if (!spec.expect.empty()) {
    out += "expect:\n";
    for (const auto& e : spec.expect) out += fmt::format("  {}: {}\n", e.metric, quoted(e.text));
  }
}

}  // namespace

std::string rate_text(Duration every) {
  SHARD_ASSERT_MSG(every > Duration::zero(), "interval {}us", every.us());
  static constexpr std::array<std::pair<std::string_view, std::int64_t>, 3> kUnits{
      {{"/s", 1'000'000}, {"/min", 60'000'000}, {"/h", 3'600'000'000}}};
  std::int64_t pow10 = 1;
  for (int scale = 0; scale <= Decimal::kMaxScale; ++scale, pow10 *= 10) {
    for (const auto& [unit, unit_us] : kUnits) {
      const std::int64_t per_us = unit_us * pow10;  // at most 3.6e18: no overflow
      const std::int64_t nearest = (per_us + every.us() / 2) / every.us();
      // The nearest mantissa, or when no mantissa is that close, the one on either side of it.
      for (const std::int64_t mantissa : {nearest, nearest - 1, nearest + 1}) {
        if (mantissa <= 0) continue;
        const std::string text = decimal_text(mantissa, scale) + std::string{unit};
        const auto parsed = parse_rate(text);
        if (parsed.ok() && parsed.value->mean_interval() == every) return text;
      }
    }
  }
  // No rate text has this interval (some beyond half an hour): the nearest the loader reads.
  return format_rate(Rate{1, every});
}

std::string write_scenario(const ScenarioSpec& spec, const WriteOptions& options) {
  std::string out;
  for (const auto& line : options.header) out += line.empty() ? "#\n" : "# " + line + "\n";
  out += fmt::format("name: {}\n", quoted(spec.name));
  if (!spec.description.empty()) out += fmt::format("description: {}\n", quoted(spec.description));
  out += fmt::format("seed: {}\n", spec.seed);
  out += fmt::format("duration: {}\n", format_duration(spec.duration));
  out += fmt::format("tick: {}\n", format_duration(spec.tick));
  write_world(out, spec.world);
  write_cluster(out, spec);
  write_players(out, spec.players);
  write_bots(out, spec.bots);
  write_network(out, spec.network);
  write_faults(out, spec, options);
  write_chaos(out, spec.chaos);
  write_tail(out, spec);
  return out;
}

}  // namespace shardsim::scenario
