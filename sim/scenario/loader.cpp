#include "sim/scenario/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "sim/runner/metrics.h"
#include "sim/scenario/cluster_reader.h"
#include "sim/scenario/fault_reader.h"
#include "sim/scenario/latency_reader.h"
#include "sim/scenario/units.h"
#include "sim/scenario/yaml_reader.h"

namespace shardsim::scenario {

std::string Diagnostic::format() const {
  return fmt::format("{}:{}:{}: error: {}", loc.file, loc.line, loc.column, message);
}

namespace {

// The generic reading layer (yaml_reader.h) hands out Entries; this file only says which keys the
// v1 format has and how they combine into a ScenarioSpec. The cluster, the fault sections and
// latencies are read in cluster_reader, fault_reader and latency_reader.
using detail::Diagnostics;
using detail::Entry;
using detail::Hosts;
using detail::kCount;
using detail::kDistance;
using detail::Keys;
using detail::kind_name;
using detail::kPercent;
using detail::kSpeed;
using detail::MapReader;
using detail::read;
using detail::read_choice;
using detail::read_duration;
using detail::read_pair;
using detail::read_range;
using detail::read_rate;
using detail::read_scalar;
using detail::suggestion;

// ---------------------------------------------------------------------------------------------
// The v1 format, section by section. Each function fills its part of the spec and reports what is
// wrong; checks that relate several values run only when all of those values were valid, so one
// mistake yields one message, not a cascade.

constexpr std::string_view kRootKeys[] = {"name",   "description", "seed",    "duration", "tick",
                                          "world",  "cluster",     "players", "bots",     "network",
                                          "faults", "chaos",       "bugs",    "expect"};

// "999m or 1002m": the nearest whole-metre sizes that split into `cells` equal cells.
std::string divisible_sizes(std::int64_t mm, std::int64_t cells) {
  const std::int64_t step = std::lcm(cells, std::int64_t{1000});
  const std::int64_t lower = mm / step * step;
  if (lower == 0) return format_distance_mm(step);
  return fmt::format("{} or {}", format_distance_mm(lower), format_distance_mm(lower + step));
}

// Cells must be equal to the millimetre, and wide enough for the ghost scheme.
void check_cell_size(Diagnostics& diag, const Entry& cells_entry, const WorldSpec& w) {
  const std::array<std::pair<std::int64_t, int>, 2> axes{
      {{w.width_mm, w.cells_x}, {w.height_mm, w.cells_y}}};
  const std::array<std::string_view, 2> names{"width", "height"};
  bool equal = true;
  for (std::size_t i = 0; i < 2; ++i) {
    const auto [mm, n] = axes[i];
    if (mm % n == 0) continue;
    equal = false;
    diag.error(cells_entry.loc,
               fmt::format("world {} {} does not split into {} equal cells to the millimetre; "
                           "use a {} such as {}",
                           names[i], format_distance_mm(mm), n, names[i], divisible_sizes(mm, n)));
  }
  if (!equal) return;
  const std::int64_t need = 2 * (w.aoi_radius_mm + 2 * w.hysteresis_mm);
  if (std::min(w.cell_width_mm(), w.cell_height_mm()) >= need) return;
  diag.error(
      cells_entry.loc,
      fmt::format("cells are {} x {}, too small for aoi_radius {} and hysteresis {}: cells "
                  "must be at least 2 * (aoi_radius + 2 * hysteresis) = {} across, because "
                  "ghosts between nodes are sent to the cells next to an entity's own, so an AOI "
                  "circle widened by the AOI rim and the handover margin must not reach past them; "
                  "use fewer cells, a larger world or a smaller aoi_radius",
                  format_distance_mm(w.cell_width_mm()), format_distance_mm(w.cell_height_mm()),
                  format_distance_mm(w.aoi_radius_mm), format_distance_mm(w.hysteresis_mm),
                  format_distance_mm(need)));
}

// The AOI index's grid has buckets of aoi_radius + hysteresis: a bound on buckets per axis keeps
// its per-tick work and memory bounded however small the radius (AoiIndex, sparse layout: one
// entry per row of buckets).
constexpr std::int64_t kMaxAoiBucketsPerAxis = 65'536;
void check_aoi_grid(Diagnostics& diag, const Entry& aoi_entry, const WorldSpec& w) {
  const std::int64_t side = std::max(w.width_mm, w.height_mm);
  const std::int64_t bucket = w.aoi_radius_mm + w.hysteresis_mm;
  const std::int64_t across = (side + bucket - 1) / bucket;
  if (across <= kMaxAoiBucketsPerAxis) return;
  const std::int64_t least = (side + kMaxAoiBucketsPerAxis - 1) / kMaxAoiBucketsPerAxis;
  diag.error(aoi_entry.loc,
             fmt::format("aoi_radius {} plus hysteresis {} is too small for a world {} across: "
                         "the AOI grid, in squares of aoi_radius + hysteresis, would be {} squares "
                         "across, above the limit of {}; make aoi_radius + hysteresis at least {}",
                         format_distance_mm(w.aoi_radius_mm), format_distance_mm(w.hysteresis_mm),
                         format_distance_mm(side), across, kMaxAoiBucketsPerAxis,
                         format_distance_mm(least)));
}

// Returns the world only when every part of it is valid, for checks in other sections.
std::optional<WorldSpec> parse_world(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"size", "cells", "aoi_radius", "hysteresis",
                                               "handover_dwell"};
  MapReader m{diag, e, kKeys};
  if (!m.is_map()) return std::nullopt;
  WorldSpec w;
  bool ok = true;
  const auto set = [&ok](auto& field, const auto& value) {
    if (value)
      field = *value;
    else
      ok = false;
  };
  if (const Entry* s = m.require("size")) {
    constexpr std::string_view kExpected =
        "a list of two distances [width, height] such as [4000m, 4000m]";
    const auto items = read_pair(diag, *s, kExpected, {"width", "height"});
    set(w.width_mm, items ? read(diag, (*items)[0], kDistance, 1, kMaxWorldMm) : std::nullopt);
    set(w.height_mm, items ? read(diag, (*items)[1], kDistance, 1, kMaxWorldMm) : std::nullopt);
  } else {
    ok = false;
  }
  const Entry* cells = m.require("cells");
  if (cells != nullptr) {
    const auto items =
        read_pair(diag, *cells, "a list of two whole numbers [x, y] such as [8, 8]", {"x", "y"});
    set(w.cells_x, items ? read(diag, (*items)[0], kCount, 1, kMaxCellsPerAxis) : std::nullopt);
    set(w.cells_y, items ? read(diag, (*items)[1], kCount, 1, kMaxCellsPerAxis) : std::nullopt);
  } else {
    ok = false;
  }
  const Entry* aoi = m.require("aoi_radius");
  set(w.aoi_radius_mm, aoi ? read(diag, *aoi, kDistance, 1, kMaxWorldMm) : std::nullopt);
  const Entry* hysteresis = m.require("hysteresis");
  set(w.hysteresis_mm,
      hysteresis ? read(diag, *hysteresis, kDistance, 0, kMaxWorldMm) : std::nullopt);
  if (const Entry* dwell = m.get("handover_dwell")) {
    set(w.handover_dwell, read_duration(diag, *dwell, Duration::zero(), kMaxDuration));
  }
  if (!ok) return std::nullopt;
  check_cell_size(diag, *cells, w);
  check_aoi_grid(diag, *aoi, w);
  return w;
}

void check_hotspot_center(Diagnostics& diag, const Entry& e, Vec2 c, const WorldSpec& w) {
  if (c.x < w.width_mm && c.y < w.height_mm) return;
  diag.error(e.loc, fmt::format("{} [{}, {}] is outside the world, which spans [0, {}) x [0, {})",
                                e.name, format_distance_mm(c.x), format_distance_mm(c.y),
                                format_distance_mm(w.width_mm), format_distance_mm(w.height_mm)));
}

HotspotSpawn parse_hotspot(Diagnostics& diag, const Entry& e,
                           const std::optional<WorldSpec>& world) {
  static constexpr std::string_view kKeys[] = {"center", "radius", "fraction"};
  MapReader m{diag, e, kKeys};
  HotspotSpawn h;
  h.enabled = true;
  h.fraction_ppm = 1'000'000;
  if (const Entry* c = m.require("center")) {
    constexpr std::string_view kExpected = "a list of two distances [x, y] such as [2000m, 2000m]";
    const auto items = read_pair(diag, *c, kExpected, {"x", "y"});
    const auto x = items ? read(diag, (*items)[0], kDistance, 0, kMaxWorldMm) : std::nullopt;
    const auto y = items ? read(diag, (*items)[1], kDistance, 0, kMaxWorldMm) : std::nullopt;
    if (x && y) {
      h.center = Vec2{*x, *y};
      if (world) check_hotspot_center(diag, *c, h.center, *world);
    }
  }
  if (const Entry* r = m.require("radius")) {
    if (auto v = read(diag, *r, kDistance, 1, kMaxWorldMm)) h.radius_mm = *v;
  }
  if (const Entry* f = m.get("fraction")) {
    if (auto v = read(diag, *f, kPercent, 0, 1'000'000))
      h.fraction_ppm = static_cast<std::uint32_t>(*v);
  }
  return h;
}

HotspotSpawn parse_spawn(Diagnostics& diag, const Entry& e, const std::optional<WorldSpec>& world) {
  constexpr std::string_view kExpected =
      "`uniform` or {hotspot: {center: [x, y], radius: 300m, fraction: 50%}}";
  if (e.value.IsScalar() && e.value.Scalar() == "uniform") return {};
  if (e.value.IsMap()) {
    static constexpr std::string_view kKeys[] = {"hotspot"};
    MapReader m{diag, e, kKeys};
    if (const Entry* h = m.require("hotspot")) return parse_hotspot(diag, *h, world);
    return {};
  }
  diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, kExpected,
                                e.value.IsScalar() ? fmt::format("`{}`", e.value.Scalar())
                                                   : std::string{kind_name(e.value)}));
  return {};
}

// The run's timing, each set only when valid, for checks in other sections.
struct Timing {
  std::optional<Duration> duration;
  std::optional<Duration> tick;
};

// `actions: 1/s` -> one action per player every 1s, at most one per tick and at least one per run.
std::optional<Duration> read_actions(Diagnostics& diag, const Entry& e, const Timing& timing) {
  const auto rate = read_rate(diag, e);
  if (!rate) return std::nullopt;
  const Duration every = rate->mean_interval();
  const std::string text = e.value.Scalar();
  if (timing.tick && every < *timing.tick) {
    diag.error(e.loc,
               fmt::format("{} ({}) is one action every {}, more often than the tick ({}); "
                           "use at most {}",
                           e.name, text, format_duration(every), format_duration(*timing.tick),
                           format_rate(Rate{1, *timing.tick})));
    return std::nullopt;
  }
  if (timing.duration && every > *timing.duration) {
    diag.error(e.loc, fmt::format("{} ({}) is one action every {}, longer than `duration` ({}), so "
                                  "no player would act",
                                  e.name, text, format_duration(every),
                                  format_duration(*timing.duration)));
    return std::nullopt;
  }
  return every;
}

PlayersSpec parse_players(Diagnostics& diag, const Entry& e, const std::optional<WorldSpec>& world,
                          const Timing& timing) {
  static constexpr std::string_view kKeys[] = {"count", "spawn", "movement", "speed", "actions"};
  static constexpr std::array<std::pair<std::string_view, Movement>, 3> kMovements{
      {{"random-waypoint", Movement::random_waypoint},
       {"border-oscillation", Movement::border_oscillation},
       {"hotspot", Movement::hotspot}}};
  MapReader m{diag, e, kKeys};
  PlayersSpec p;
  if (const Entry* c = m.require("count")) {
    if (auto v = read(diag, *c, kCount, 0, kMaxPlayers)) p.count = static_cast<int>(*v);
  }
  if (const Entry* s = m.get("spawn")) p.hotspot = parse_spawn(diag, *s, world);
  if (const Entry* mv = m.get("movement")) {
    if (auto v = read_choice(diag, *mv, kMovements)) p.movement = *v;
  }
  if (const Entry* s = m.get("speed")) {
    if (auto v = read_range(diag, *s, kSpeed, "a list [min, max] such as [1m/s, 6m/s]", 0,
                            kMaxSpeedMmS)) {
      p.speed_min_mm_s = (*v)[0];
      p.speed_max_mm_s = (*v)[1];
    }
  }
  if (const Entry* a = m.get("actions")) {
    if (auto every = read_actions(diag, *a, timing)) p.action_every = *every;
  }
  return p;
}

BotsSpec parse_bots(Diagnostics& diag, const Entry& e, const std::optional<WorldSpec>& world) {
  static constexpr std::string_view kKeys[] = {"density", "speed"};
  MapReader m{diag, e, kKeys};
  BotsSpec b;
  if (const Entry* d = m.require("density")) {
    if (auto v = read_range(diag, *d, kCount, "a list [min, max] of NPCs per cell such as [2, 8]",
                            0, kMaxBotsPerCell)) {
      b.density_min = static_cast<int>((*v)[0]);
      b.density_max = static_cast<int>((*v)[1]);
      const std::int64_t cells = world ? std::int64_t{world->cells_x} * world->cells_y : 0;
      if (cells * b.density_max > kMaxTotalBots) {
        diag.error(d->loc, fmt::format("{} max {} in each of {} cells allows {} NPCs, above the "
                                       "limit of {}",
                                       d->name, b.density_max, cells, cells * b.density_max,
                                       kMaxTotalBots));
      }
    }
  }
  if (const Entry* s = m.get("speed")) {
    if (auto v = read_range(diag, *s, kSpeed, "a list [min, max] such as [0.5m/s, 2m/s]", 0,
                            kMaxSpeedMmS)) {
      b.speed_min_mm_s = (*v)[0];
      b.speed_max_mm_s = (*v)[1];
    }
  }
  return b;
}

net::LinkConfig parse_network(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"latency", "loss", "duplicate", "reorder"};
  MapReader m{diag, e, kKeys};
  net::LinkConfig link;
  if (const Entry* l = m.get("latency")) {
    if (auto spec = detail::read_latency(diag, *l)) link.latency = *spec;
  }
  const std::array<std::pair<std::string_view, std::uint32_t*>, 3> probabilities{
      {{"loss", &link.loss_ppm},
       {"duplicate", &link.duplicate_ppm},
       {"reorder", &link.reorder_ppm}}};
  for (const auto& [key, field] : probabilities) {
    if (const Entry* p = m.get(key)) {
      if (auto v = read(diag, *p, kPercent, 0, 1'000'000)) *field = static_cast<std::uint32_t>(*v);
    }
  }
  return link;
}

// The value of an expectation, in the metric's unit: ms for durations, percent for percentages, a
// plain number for counts, bytes and ratios.
Parsed<double> parse_expect_value(const MetricInfo& metric, std::string_view text) {
  if (metric.unit == MetricUnit::duration_ms) {
    const auto d = parse_duration(text);
    if (!d.ok()) return {std::nullopt, d.error};
    return {static_cast<double>(d.value->us()) / 1000.0, {}};
  }
  if (metric.unit == MetricUnit::percent) {
    const auto p = parse_percent_ppm(text);
    if (!p.ok()) return {std::nullopt, p.error};
    return {static_cast<double>(*p.value) / 10'000.0, {}};
  }
  const auto n = parse_decimal(text);
  if (!n.ok()) {
    return {std::nullopt,
            fmt::format("{} is a {}: {}", metric.name,
                        metric.unit == MetricUnit::bytes   ? "byte count"
                        : metric.unit == MetricUnit::ratio ? "ratio"
                                                           : "count",
                        n.error)};
  }
  return {n.value->to_double(), {}};
}

std::optional<double> read_expect_value(Diagnostics& diag, const Entry& e, const MetricInfo& metric,
                                        std::string_view text) {
  const auto value = parse_expect_value(metric, text);
  if (!value.ok()) {
    diag.error(e.loc, fmt::format("{}: {}", e.name, value.error));
    return std::nullopt;
  }
  if (*value.value < 0) {
    diag.error(e.loc, fmt::format("{}: `{}` cannot be negative", e.name, text));
    return std::nullopt;
  }
  return value.value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// What is wrong with node.<node>.<field>, a per-node metric by its shape, in a scenario whose
// nodes are `nodes` (nullptr: not known, the cluster was invalid); "" if nothing.
std::string node_metric_problem(std::string_view name, std::string_view node,
                                const std::vector<std::string>* nodes) {
  if (nodes == nullptr || std::find(nodes->begin(), nodes->end(), node) != nodes->end()) return {};
  // node-9 among node-1..node-4 is no typo: no suggestion, the list says it.
  const bool numbered =
      node.starts_with("node-") && node.size() > 5 &&
      std::all_of(node.begin() + 5, node.end(), [](char c) { return c >= '0' && c <= '9'; });
  const std::vector<std::string_view> candidates(nodes->begin(), nodes->end());
  const std::string hint = numbered ? std::string{} : suggestion(node, candidates);
  return fmt::format("unknown metric `{}` in `expect`: no node `{}` in this scenario{}", name, node,
                     hint.empty() ? "; its nodes are " + detail::describe_nodes(*nodes) : hint);
}

// Why `name` is no metric, with the nearest name if there is one. A net.msg.* name is matched as
// the family it tries to be: its type against the message types; a node.* name as
// node.<name>.<field>.
std::string unknown_metric(std::string_view name, const std::vector<std::string>* nodes) {
  constexpr std::string_view kListed = "; docs/scenario-guide.md lists them";
  if (name.starts_with(kNodeMetricPrefix)) {
    const std::string_view rest = name.substr(kNodeMetricPrefix.size());
    const auto dot = rest.find('.');
    const std::string_view node = rest.substr(0, dot);
    const std::string_view field = dot == std::string_view::npos ? "" : rest.substr(dot + 1);
    const bool known_field = std::any_of(std::begin(kNodeFields), std::end(kNodeFields),
                                         [&](const MetricInfo& f) { return f.name == field; });
    if (known_field) {  // a node name no scenario can have
      if (nodes != nullptr) return node_metric_problem(name, node, nodes);
      return fmt::format("unknown metric `{}` in `expect`: `{}` is no node name (lowercase "
                         "letters, digits and '-')",
                         name, node);
    }
    const bool our_node =
        nodes != nullptr && std::find(nodes->begin(), nodes->end(), node) != nodes->end();
    if (our_node) {
      std::vector<std::string> names;
      std::string list;
      for (const auto& f : kNodeFields) {
        names.push_back(fmt::format("{}{}.{}", kNodeMetricPrefix, node, f.name));
        list += fmt::format("{}`{}`", list.empty() ? "" : ", ", f.name);
      }
      const std::vector<std::string_view> candidates(names.begin(), names.end());
      const std::string best = suggestion(name, candidates);
      return fmt::format("unknown metric `{}` in `expect`: a node's load is node.{}.<field> with "
                         "<field> one of {}{}",
                         name, node, list, best);
    }
  }
  if (name.starts_with(kMessageMetricPrefix)) {
    const auto m = split_message_metric(name);
    if (!m) {
      return fmt::format("unknown metric `{}` in `expect`: messages by type are `{}<type>.count` "
                         "and `{}<type>.bytes`",
                         name, kMessageMetricPrefix, kMessageMetricPrefix);
    }
    const auto& types = sim::message_type_names();
    const std::vector<std::string_view> candidates(types.begin(), types.end());
    const std::string hint = suggestion(m->type, candidates);
    return fmt::format("unknown metric `{}` in `expect`: no message type `{}`{}", name, m->type,
                       hint.empty() ? kListed : hint);
  }
  std::vector<std::string_view> names;
  for (const auto& m : kMetrics) names.push_back(m.name);
  const std::string hint = suggestion(name, names);
  return fmt::format("unknown metric `{}` in `expect`{}", name, hint.empty() ? kListed : hint);
}

std::optional<Expectation> parse_expectation(Diagnostics& diag, const Entry& e,
                                             std::string_view metric_name,
                                             const std::vector<std::string>* nodes) {
  static constexpr std::array<std::pair<std::string_view, CompareOp>, 6> kOps{
      {{"<=", CompareOp::le},
       {">=", CompareOp::ge},
       {"==", CompareOp::eq},
       {"!=", CompareOp::ne},
       {"<", CompareOp::lt},
       {">", CompareOp::gt}}};
  const auto metric = find_metric(metric_name);
  if (!metric) {
    diag.error(e.key_loc, unknown_metric(metric_name, nodes));
    return std::nullopt;
  }
  if (const auto nm = split_node_metric(metric_name)) {
    if (const std::string problem = node_metric_problem(metric_name, nm->node, nodes);
        !problem.empty()) {
      diag.error(e.key_loc, problem);
      return std::nullopt;
    }
  }
  const auto raw = read_scalar(diag, e, "an expectation \"OP VALUE\" such as \"== 0\"");
  if (!raw) return std::nullopt;
  const std::string_view text = trim(*raw);
  for (const auto& [op_text, op] : kOps) {
    if (!text.starts_with(op_text)) continue;
    const std::string_view value_text = trim(text.substr(op_text.size()));
    if (value_text.empty()) {
      diag.error(e.loc, fmt::format("{}: missing a value after `{}`", e.name, op_text));
      return std::nullopt;
    }
    const auto value = read_expect_value(diag, e, *metric, value_text);
    if (!value) return std::nullopt;
    return Expectation{std::string{metric_name}, op, *value, std::string{text}, e.loc};
  }
  diag.error(e.loc, fmt::format("{} must be \"OP VALUE\" with OP one of < <= == != >= >, such as "
                                "\"== 0\", got `{}`",
                                e.name, text));
  return std::nullopt;
}

// `nodes`: the scenario's node names, which node.<name>.* may name; nullptr when the cluster is
// invalid (already reported: node names are then not checked).
std::vector<Expectation> parse_expect(Diagnostics& diag, const Entry& e,
                                      const std::vector<std::string>* nodes) {
  MapReader m{diag, e, {}, {}, Keys::metric_names};
  std::vector<Expectation> out;
  for (const Entry& x : m.entries()) {
    const std::string_view metric = std::string_view{x.path}.substr(e.path.size() + 1);
    if (auto ex = parse_expectation(diag, x, metric, nodes)) out.push_back(std::move(*ex));
  }
  return out;
}

bool valid_scenario_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

void parse_header(Diagnostics& diag, MapReader& m, ScenarioSpec& spec) {
  if (const Entry* n = m.require("name")) {
    if (auto v = read_scalar(diag, *n, "a short name such as quickstart")) {
      if (valid_scenario_name(*v)) {
        spec.name = *v;
      } else {
        diag.error(n->loc, fmt::format("`name` must be 1 to 64 letters, digits, '-', '_' or '.', "
                                       "got `{}`; put prose in `description`",
                                       *v));
      }
    }
  }
  if (const Entry* d = m.get("description")) {
    if (auto v = read_scalar(diag, *d, "text")) spec.description = *v;
  }
  if (const Entry* s = m.get("seed")) {
    if (auto text = read_scalar(diag, *s, "a whole number")) {
      const auto v = parse_u64(*text);
      if (v.ok())
        spec.seed = *v.value;
      else
        diag.error(s->loc, fmt::format("`seed`: {}", v.error));
    }
  }
}

Timing parse_timing(Diagnostics& diag, MapReader& m, ScenarioSpec& spec) {
  const Entry* d = m.require("duration");
  const auto duration =
      d ? read_duration(diag, *d, Duration::micros(1), kMaxDuration) : std::nullopt;
  if (duration) spec.duration = *duration;
  const Entry* t = m.get("tick");
  const auto tick = t ? read_duration(diag, *t, kMinTick, kMaxTick) : std::optional{spec.tick};
  if (tick) spec.tick = *tick;
  if (duration && tick && *tick > *duration) {
    diag.error(t ? t->loc : d->loc,
               fmt::format("`tick` ({}) must not exceed `duration` ({})", format_duration(*tick),
                           format_duration(*duration)));
    return {duration, std::nullopt};
  }
  return {duration, tick};
}

// faults, chaos and bugs: what the run does to the cluster. Host names are checked only when the
// cluster is valid.
void parse_fault_sections(Diagnostics& diag, MapReader& m, const detail::ClusterRead& cluster,
                          const Timing& timing, ScenarioSpec& spec) {
  std::optional<Hosts> hosts;
  if (cluster.hosts_valid) hosts.emplace(cluster.node_names, cluster.cluster.gateways);
  const Hosts* h = hosts ? &*hosts : nullptr;
  if (const Entry* f = m.get("faults"))
    spec.faults = detail::read_faults(diag, *f, h, timing.duration);
  if (const Entry* c = m.get("chaos"))
    spec.chaos = detail::read_chaos(diag, *c, h, timing.duration);
  if (const Entry* b = m.get("bugs")) spec.bugs = detail::read_bugs(diag, *b);
}

std::optional<ScenarioSpec> parse_scenario(Diagnostics& diag, const YAML::Node& doc,
                                           const std::string& file) {
  const SourceLoc start{file, 1, 1};
  const Entry root{"", "the scenario", doc, start, doc.IsNull() ? start : diag.at(doc.Mark())};
  MapReader m{diag, root, kRootKeys};
  if (!m.is_map()) return std::nullopt;
  ScenarioSpec spec;
  spec.file = file;
  parse_header(diag, m, spec);
  const Timing timing = parse_timing(diag, m, spec);
  std::optional<WorldSpec> world;
  if (const Entry* w = m.require("world")) world = parse_world(diag, *w);
  if (world) spec.world = *world;
  const Entry* c = m.get("cluster");
  const detail::ClusterRead cluster =
      c ? detail::read_cluster(diag, *c) : detail::default_cluster();
  spec.node_names = cluster.node_names;
  spec.cluster = cluster.cluster;
  if (const Entry* p = m.require("players")) spec.players = parse_players(diag, *p, world, timing);
  if (const Entry* b = m.get("bots")) spec.bots = parse_bots(diag, *b, world);
  if (const Entry* n = m.get("network")) spec.network = parse_network(diag, *n);
  parse_fault_sections(diag, m, cluster, timing, spec);
  if (const Entry* x = m.get("expect"))
    spec.expect = parse_expect(diag, *x, cluster.hosts_valid ? &cluster.node_names : nullptr);
  if (!diag.empty()) return std::nullopt;
  return spec;
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& file_name) {
  Diagnostics diag{file_name};
  const auto doc = detail::read_document(diag, std::string{text});
  if (!doc) return {std::nullopt, diag.take()};  // malformed YAML, already reported
  if (doc->documents == 0 || doc->root.IsNull()) {
    diag.error({file_name, 1, 1},
               "scenario file is empty; it needs at least `name`, `duration`, `world` and "
               "`players`");
    return {std::nullopt, diag.take()};
  }
  if (doc->documents > 1) {
    diag.error(diag.at(doc->second_root),
               "a scenario file holds one YAML document, but a second one (after a `---` line) "
               "starts here");
  }
  auto spec = parse_scenario(diag, doc->root, file_name);
  if (!diag.empty()) return {std::nullopt, diag.take()};
  return {std::move(spec), {}};
}

LoadResult load_file(const std::string& path) {
  const SourceLoc start{path, 1, 1};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return {std::nullopt, {{start, "this is a directory, not a scenario file"}}};
  }
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return {std::nullopt,
            {{start, fmt::format("cannot open scenario file: {}", std::strerror(errno))}}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return {std::nullopt,
            {{start, fmt::format("cannot read scenario file: {}", std::strerror(errno))}}};
  }
  return load_string(text.str(), path);
}

}  // namespace shardsim::scenario
