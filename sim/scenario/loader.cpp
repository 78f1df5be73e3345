#include "sim/scenario/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>
#include <sstream>
#include <tuple>

#include "sim/runner/metrics.h"
#include "sim/scenario/units.h"

namespace shardsim::scenario {

std::string Diagnostic::format() const {
  return fmt::format("{}:{}:{}: error: {}", loc.file, loc.line, loc.column, message);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Diagnostics and map entries: the generic half of the loader. The scenario-specific half below
// only ever sees Entries, so every message can name the key and point at the node.

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_{std::move(file)} {}

  // yaml-cpp marks are zero-based and null for nodes it made up; editors count from 1.
  SourceLoc at(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0) return {file_, 1, 1};
    return {file_, mark.line + 1, mark.column + 1};
  }
  void error(const SourceLoc& loc, std::string message) {
    list_.push_back({loc, std::move(message)});
  }
  bool empty() const { return list_.empty(); }
  std::size_t count() const { return list_.size(); }

  std::vector<Diagnostic> take() {
    std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::tie(a.loc.line, a.loc.column) < std::tie(b.loc.line, b.loc.column);
    });
    return std::move(list_);
  }

 private:
  std::string file_;
  std::vector<Diagnostic> list_;
};

// One value in the document, with the name messages use for it and where to point.
struct Entry {
  std::string path;  // dotted key path, "world.aoi_radius"; "" for the document itself
  std::string name;  // as messages show it: "`world.aoi_radius`", "`world.size` width"
  YAML::Node value;
  SourceLoc key_loc;  // the key (for a list element: the element)
  SourceLoc loc;      // the value, or the key when the value is empty (yaml-cpp marks of empty
                      // values point at the next token, which would confuse)
};

Entry child_entry(const Diagnostics& diag, const Entry& parent, std::string_view key,
                  const YAML::Node& key_node, const YAML::Node& value) {
  std::string path =
      parent.path.empty() ? std::string{key} : fmt::format("{}.{}", parent.path, key);
  const SourceLoc key_loc = diag.at(key_node.Mark());
  const SourceLoc loc = value.IsNull() ? key_loc : diag.at(value.Mark());
  return Entry{path, fmt::format("`{}`", path), value, key_loc, loc};
}

const char* kind_name(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  if (n.IsScalar()) return "a single value";
  return "nothing";
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), for suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// The candidate close enough to `word` to be what was meant (a typo), or "".
template <class Names>
std::string suggested_word(std::string_view word, const Names& candidates) {
  const std::string lower = lowercase(word);
  std::string_view best;
  std::size_t best_distance = SIZE_MAX;
  for (std::string_view c : candidates) {
    const std::size_t dist = edit_distance(lower, c);
    if (dist < best_distance) {
      best = c;
      best_distance = dist;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(1, std::min(word.size(), best.size()) / 3);
  if (best.empty() || best_distance > allowed) return {};
  return std::string{best};
}

// "; did you mean `aoi_radius`?" when one candidate is close enough to be a typo, else "".
template <class Names>
std::string suggestion(std::string_view word, const Names& candidates) {
  const std::string best = suggested_word(word, candidates);
  return best.empty() ? std::string{} : fmt::format("; did you mean `{}`?", best);
}

// A key reserved for a later issue: accepted by the parser, rejected with a clear message.
struct Reserved {
  std::string_view key;
  std::string_view planned;
};

// closed: only the listed keys; metric_names: any key, checked later against the metric registry.
enum class Keys { closed, metric_names };

// Checks a map's keys once — unknown, reserved, duplicate and non-scalar keys are reported here —
// and hands out its entries by key.
class MapReader {
 public:
  MapReader(Diagnostics& diag, const Entry& self, std::span<const std::string_view> known,
            std::span<const Reserved> reserved = {}, Keys policy = Keys::closed)
      : diag_{diag}, self_{self} {
    if (!self.value.IsMap()) {
      const std::string examples =
          policy == Keys::metric_names ? "`players.lost: \"== 0\"`" : key_examples(known);
      diag.error(self.loc, fmt::format("{} must be a map with keys such as {}, got {}", self.name,
                                       examples, kind_name(self.value)));
      return;
    }
    is_map_ = true;
    for (auto it = self.value.begin(); it != self.value.end(); ++it) {
      add(it->first, it->second, known, reserved, policy);
    }
  }

  bool is_map() const { return is_map_; }
  const std::vector<Entry>& entries() const { return entries_; }

  const Entry* get(std::string_view key) const {
    for (const auto& e : entries_)
      if (e.path == child_path(key)) return &e;
    return nullptr;
  }

  // Reports a missing key at the key of this map (or 1:1 for the document).
  const Entry* require(std::string_view key) {
    const Entry* e = get(key);
    // A misspelt key was already reported with this key as the suggestion; say it once.
    const bool suggested = std::find(suggested_.begin(), suggested_.end(), key) != suggested_.end();
    if (e == nullptr && is_map_ && !suggested) {
      diag_.error(self_.key_loc, self_.path.empty() ? fmt::format("missing required key `{}`", key)
                                                    : fmt::format("{} is missing required key `{}`",
                                                                  self_.name, key));
    }
    return e;
  }

 private:
  std::string child_path(std::string_view key) const {
    return self_.path.empty() ? std::string{key} : fmt::format("{}.{}", self_.path, key);
  }

  static std::string key_examples(std::span<const std::string_view> known) {
    std::string out;
    for (std::size_t i = 0; i < known.size() && i < 3; ++i) {
      out += fmt::format("{}`{}`", i == 0 ? "" : ", ", known[i]);
    }
    return out;
  }

  std::string where() const {
    return self_.path.empty() ? "at the top level" : fmt::format("in {}", self_.name);
  }

  void add(const YAML::Node& key_node, const YAML::Node& value,
           std::span<const std::string_view> known, std::span<const Reserved> reserved,
           Keys policy) {
    const SourceLoc key_loc = diag_.at(key_node.Mark());
    if (!key_node.IsScalar()) {
      diag_.error(key_loc,
                  fmt::format("keys must be plain names, got {} {}", kind_name(key_node), where()));
      return;
    }
    const std::string& key = key_node.Scalar();
    for (const auto& e : entries_) {
      if (e.path == child_path(key)) {
        diag_.error(key_loc, fmt::format("duplicate key `{}` {} (first defined at line {})", key,
                                         where(), e.key_loc.line));
        return;
      }
    }
    for (const auto& r : reserved) {
      if (r.key == key) {
        diag_.error(key_loc,
                    fmt::format("`{}` is not supported yet (planned: {}); remove it for now",
                                child_path(key), r.planned));
        return;
      }
    }
    if (policy == Keys::closed && std::find(known.begin(), known.end(), key) == known.end()) {
      std::vector<std::string_view> candidates{known.begin(), known.end()};
      for (const auto& r : reserved) candidates.push_back(r.key);
      const std::string hint = suggestion(key, candidates);
      diag_.error(key_loc, fmt::format("unknown key `{}` {}{}", key, where(), hint));
      if (!hint.empty()) suggested_.push_back(suggested_word(key, candidates));
      return;
    }
    entries_.push_back(child_entry(diag_, self_, key, key_node, value));
  }

  Diagnostics& diag_;
  Entry self_;
  std::vector<Entry> entries_;
  std::vector<std::string> suggested_;  // keys offered as "did you mean" for a misspelt key
  bool is_map_{false};
};

// ---------------------------------------------------------------------------------------------
// Typed values. A Quantity is one kind of scalar (duration, distance, ...) stored as int64 in its
// base unit (us, mm, mm/s, ppm, plain), with how to parse it and how to show it back.

struct Quantity {
  std::string_view expected;  // "a duration such as 250ms or 2s"
  Parsed<std::int64_t> (*parse)(std::string_view);
  std::string (*format)(std::int64_t);
};

const Quantity kDuration{
    "a duration such as 250ms or 2s",
    [](std::string_view t) {
      auto d = parse_duration(t);
      return d.ok() ? Parsed<std::int64_t>{d.value->us(), {}} : Parsed<std::int64_t>{{}, d.error};
    },
    [](std::int64_t us) { return format_duration(Duration::micros(us)); }};
const Quantity kDistance{"a distance such as 100m", parse_distance_mm, format_distance_mm};
const Quantity kSpeed{"a speed such as 6m/s", parse_speed_mm_s, format_speed_mm_s};
const Quantity kPercent{"a percentage such as 0.5%", parse_percent_ppm, format_ppm_percent};
const Quantity kCount{"a whole number", parse_integer,
                      [](std::int64_t v) { return fmt::format("{}", v); }};

std::optional<std::string> read_scalar(Diagnostics& diag, const Entry& e,
                                       std::string_view expected) {
  if (e.value.IsScalar()) return e.value.Scalar();
  diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, expected, kind_name(e.value)));
  return std::nullopt;
}

// Parses `e` as `q` and checks lo <= value <= hi, with a message that names the key.
std::optional<std::int64_t> read(Diagnostics& diag, const Entry& e, const Quantity& q,
                                 std::int64_t lo, std::int64_t hi) {
  const auto text = read_scalar(diag, e, q.expected);
  if (!text) return std::nullopt;
  const auto parsed = q.parse(*text);
  if (!parsed.ok()) {
    diag.error(e.loc, fmt::format("{}: {}", e.name, parsed.error));
    return std::nullopt;
  }
  const std::int64_t v = *parsed.value;
  if (v < 0 && lo >= 0) {
    diag.error(e.loc, fmt::format("{} cannot be negative, got {}", e.name, q.format(v)));
  } else if (v < lo && lo == 1) {
    diag.error(e.loc, fmt::format("{} must be greater than zero, got {}", e.name, q.format(v)));
  } else if (v < lo || v > hi) {
    diag.error(e.loc, fmt::format("{} must be between {} and {}, got {}", e.name, q.format(lo),
                                  q.format(hi), q.format(v)));
  } else {
    return v;
  }
  return std::nullopt;
}

std::optional<Duration> read_duration(Diagnostics& diag, const Entry& e, Duration lo, Duration hi) {
  const auto us = read(diag, e, kDuration, lo.us(), hi.us());
  return us ? std::optional{Duration::micros(*us)} : std::nullopt;
}

// A two-element list, such as `size: [4000m, 4000m]`; the elements are named for messages.
std::optional<std::array<Entry, 2>> read_pair(Diagnostics& diag, const Entry& e,
                                              std::string_view expected,
                                              std::array<std::string_view, 2> names) {
  if (!e.value.IsSequence() || e.value.size() != 2) {
    const std::string got = e.value.IsSequence() ? fmt::format("a list of {}", e.value.size())
                                                 : std::string{kind_name(e.value)};
    diag.error(e.loc, fmt::format("{} must be {}, got {}", e.name, expected, got));
    return std::nullopt;
  }
  std::array<Entry, 2> out;
  for (std::size_t i = 0; i < 2; ++i) {
    const YAML::Node item = e.value[i];
    const SourceLoc loc = item.IsNull() ? e.loc : diag.at(item.Mark());
    out[i] = Entry{fmt::format("{}[{}]", e.path, i), fmt::format("{} {}", e.name, names[i]), item,
                   loc, loc};
  }
  return out;
}

// A [min, max] pair of one quantity, both within [lo, hi] and min <= max.
std::optional<std::array<std::int64_t, 2>> read_range(Diagnostics& diag, const Entry& e,
                                                      const Quantity& q, std::string_view expected,
                                                      std::int64_t lo, std::int64_t hi) {
  const auto items = read_pair(diag, e, expected, {"min", "max"});
  if (!items) return std::nullopt;
  const auto min = read(diag, (*items)[0], q, lo, hi);
  const auto max = read(diag, (*items)[1], q, lo, hi);
  if (!min || !max) return std::nullopt;
  if (*min > *max) {
    diag.error(e.loc, fmt::format("{}: min ({}) must not exceed max ({})", e.name, q.format(*min),
                                  q.format(*max)));
    return std::nullopt;
  }
  return std::array{*min, *max};
}

// One of a fixed set of words, with a suggestion for a near miss.
template <class T, std::size_t N>
std::optional<T> read_choice(Diagnostics& diag, const Entry& e,
                             const std::array<std::pair<std::string_view, T>, N>& choices) {
  std::string list;
  std::array<std::string_view, N> words;
  for (std::size_t i = 0; i < N; ++i) {
    words[i] = choices[i].first;
    list += fmt::format("{}{}", i == 0 ? "" : (i + 1 == N ? " or " : ", "), choices[i].first);
  }
  const auto text = read_scalar(diag, e, fmt::format("one of {}", list));
  if (!text) return std::nullopt;
  for (const auto& [word, value] : choices)
    if (word == *text) return value;
  diag.error(e.loc, fmt::format("{} must be one of {}, got `{}`{}", e.name, list, *text,
                                suggestion(*text, words)));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The v1 format, section by section. Each function fills its part of the spec and reports what is
// wrong; checks that relate several values run only when all of those values were valid, so one
// mistake yields one message, not a cascade.

constexpr std::string_view kRootKeys[] = {"name", "description", "seed",    "duration",
                                          "tick", "world",       "cluster", "players",
                                          "bots", "network",     "expect"};
constexpr Reserved kRootReserved[] = {
    {"faults", "cross-node issue, a timeline of crashes, pauses and partitions"},
    {"chaos", "cross-node issue, random fault rates"},
    {"bugs", "a later issue, injected engine bugs that prove the checkers catch them"}};
constexpr std::string_view kPlanCrossNode = "cross-node issue";

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
                  "a cell keeps ghosts only of its direct neighbours, so an AOI circle "
                  "widened by the AOI rim and the handover margin must not reach past them; "
                  "use fewer cells, a larger world or a smaller aoi_radius",
                  format_distance_mm(w.cell_width_mm()), format_distance_mm(w.cell_height_mm()),
                  format_distance_mm(w.aoi_radius_mm), format_distance_mm(w.hysteresis_mm),
                  format_distance_mm(need)));
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
  return w;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNodeNameLength) return false;
  if (name.front() < 'a' || name.front() > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::vector<std::string> parse_node_list(Diagnostics& diag, const Entry& e) {
  std::vector<std::string> names;
  std::vector<int> lines;
  if (e.value.size() == 0 || e.value.size() > static_cast<std::size_t>(kMaxNodes)) {
    diag.error(e.loc, fmt::format("{} must list between 1 and {} node names, got {}", e.name,
                                  kMaxNodes, e.value.size()));
    return names;
  }
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const SourceLoc loc = item.IsNull() ? e.loc : diag.at(item.Mark());
    const Entry node{fmt::format("{}[{}]", e.path, i), fmt::format("{} entry {}", e.name, i + 1),
                     item, loc, loc};
    const auto name = read_scalar(diag, node, "a node name such as node-1");
    if (!name) continue;
    if (!valid_node_name(*name)) {
      diag.error(loc, fmt::format("node name `{}` is invalid: use lowercase letters, digits and "
                                  "'-', starting with a letter, at most {} characters "
                                  "(like `node-1`)",
                                  *name, kMaxNodeNameLength));
      continue;
    }
    const auto dup = std::find(names.begin(), names.end(), *name);
    if (dup != names.end()) {
      diag.error(loc, fmt::format("duplicate node name `{}` (first listed at line {})", *name,
                                  lines[static_cast<std::size_t>(dup - names.begin())]));
      continue;
    }
    names.push_back(*name);
    lines.push_back(loc.line);
  }
  return names;
}

std::vector<std::string> parse_cluster(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"nodes"};
  static constexpr Reserved kReserved[] = {
      {"assignment", kPlanCrossNode}, {"lease", kPlanCrossNode},
      {"heartbeat", kPlanCrossNode},  {"gateways", kPlanCrossNode},
      {"directory", kPlanCrossNode},  {"session_store", kPlanCrossNode},
      {"clock_drift", kPlanCrossNode}};
  MapReader m{diag, e, kKeys, kReserved};
  const Entry* nodes = m.require("nodes");
  if (nodes == nullptr) return {};
  // Phase A simulates one node owning every cell; more nodes would silently idle, so say so.
  const auto phase_a_only = [&](std::vector<std::string> names, std::size_t errors_before) {
    if (names.size() > 1 && diag.count() == errors_before)
      diag.error(nodes->loc, fmt::format("{}: {} nodes need cross-node sharding, which is not "
                                         "supported yet (planned: cross-node issue); use 1 node",
                                         nodes->name, names.size()));
    return names;
  };
  const std::size_t errors_before = diag.count();
  if (nodes->value.IsSequence()) return phase_a_only(parse_node_list(diag, *nodes), errors_before);
  if (!nodes->value.IsScalar()) {
    diag.error(nodes->loc, fmt::format("{} must be a node count such as 1 or a list of node names "
                                       "such as [alpha, beta], got {}",
                                       nodes->name, kind_name(nodes->value)));
    return {};
  }
  const auto count = read(diag, *nodes, kCount, 1, kMaxNodes);
  std::vector<std::string> names;
  for (std::int64_t i = 1; count && i <= *count; ++i) names.push_back(fmt::format("node-{}", i));
  return phase_a_only(std::move(names), errors_before);
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

PlayersSpec parse_players(Diagnostics& diag, const Entry& e,
                          const std::optional<WorldSpec>& world) {
  static constexpr std::string_view kKeys[] = {"count", "spawn", "movement", "speed"};
  static constexpr Reserved kReserved[] = {{"actions", "session-state issue"}};
  static constexpr std::array<std::pair<std::string_view, Movement>, 3> kMovements{
      {{"random-waypoint", Movement::random_waypoint},
       {"border-oscillation", Movement::border_oscillation},
       {"hotspot", Movement::hotspot}}};
  MapReader m{diag, e, kKeys, kReserved};
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

// The two parameters each latency distribution takes, in LatencySpec order (a, b).
struct DistributionParams {
  std::string_view name;
  net::LatencyKind kind;
  std::array<std::string_view, 2> params;
};
constexpr std::array<DistributionParams, 3> kDistributions{{
    {"uniform", net::LatencyKind::uniform, {"min", "max"}},
    {"normal", net::LatencyKind::normal, {"mean", "stddev"}},
    {"lognormal", net::LatencyKind::lognormal, {"median", "p99"}},
}};

// b must exceed a (lognormal p99 > median) or must not be below it (uniform max >= min).
void check_latency_order(Diagnostics& diag, const Entry& b_entry, const DistributionParams& d,
                         Duration a, Duration b) {
  if (d.kind == net::LatencyKind::lognormal && b <= a) {
    diag.error(b_entry.loc, fmt::format("{} ({}) must be greater than `median` ({})", b_entry.name,
                                        format_duration(b), format_duration(a)));
  } else if (d.kind == net::LatencyKind::uniform && b < a) {
    diag.error(b_entry.loc, fmt::format("{} ({}) must not be below `min` ({})", b_entry.name,
                                        format_duration(b), format_duration(a)));
  }
}

std::optional<net::LatencySpec> parse_latency_map(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"distribution", "min",    "max", "mean",
                                               "stddev",       "median", "p99"};
  static constexpr std::array<std::pair<std::string_view, std::size_t>, 3> kNames{
      {{"uniform", 0}, {"normal", 1}, {"lognormal", 2}}};
  MapReader m{diag, e, kKeys};
  const Entry* which = m.require("distribution");
  const auto index = which ? read_choice(diag, *which, kNames) : std::nullopt;
  if (!index) return std::nullopt;
  const DistributionParams& d = kDistributions[*index];
  for (const Entry& p : m.entries()) {
    const std::string_view key = std::string_view{p.path}.substr(e.path.size() + 1);
    if (key == "distribution" || key == d.params[0] || key == d.params[1]) continue;
    diag.error(p.key_loc, fmt::format("{} does not apply to the {} distribution, which takes `{}` "
                                      "and `{}`",
                                      p.name, d.name, d.params[0], d.params[1]));
  }
  const Entry* a_entry = m.require(d.params[0]);
  const Entry* b_entry = m.require(d.params[1]);
  const Duration a_min =
      d.kind == net::LatencyKind::lognormal ? Duration::micros(1) : Duration::zero();
  const auto a = a_entry ? read_duration(diag, *a_entry, a_min, kMaxLatency) : std::nullopt;
  const auto b =
      b_entry ? read_duration(diag, *b_entry, Duration::zero(), kMaxLatency) : std::nullopt;
  if (!a || !b) return std::nullopt;
  check_latency_order(diag, *b_entry, d, *a, *b);
  return net::LatencySpec{d.kind, *a, *b};
}

net::LinkConfig parse_network(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"latency", "loss", "duplicate", "reorder"};
  MapReader m{diag, e, kKeys};
  net::LinkConfig link;
  if (const Entry* l = m.get("latency")) {
    if (l->value.IsMap()) {
      if (auto spec = parse_latency_map(diag, *l)) link.latency = *spec;
    } else if (l->value.IsScalar()) {
      if (auto d = read_duration(diag, *l, Duration::zero(), kMaxLatency)) {
        link.latency = net::LatencySpec{net::LatencyKind::constant, *d, Duration::zero()};
      }
    } else {
      diag.error(l->loc, fmt::format("{} must be a duration such as 2ms or a map such as "
                                     "{{distribution: lognormal, median: 2ms, p99: 20ms}}, got {}",
                                     l->name, kind_name(l->value)));
    }
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

// The value of an expectation, in the metric's unit: ms for durations, percent for percentages.
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
                        metric.unit == MetricUnit::bytes ? "byte count" : "count", n.error)};
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

std::optional<Expectation> parse_expectation(Diagnostics& diag, const Entry& e,
                                             std::string_view metric_name) {
  static constexpr std::array<std::pair<std::string_view, CompareOp>, 6> kOps{
      {{"<=", CompareOp::le},
       {">=", CompareOp::ge},
       {"==", CompareOp::eq},
       {"!=", CompareOp::ne},
       {"<", CompareOp::lt},
       {">", CompareOp::gt}}};
  const auto metric = find_metric(metric_name);
  if (!metric) {
    std::vector<std::string_view> names;
    for (const auto& m : kMetrics) names.push_back(m.name);
    const std::string hint = suggestion(metric_name, names);
    diag.error(e.key_loc, fmt::format("unknown metric `{}` in `expect`{}", metric_name,
                                      hint.empty() ? "; docs/scenario-guide.md lists them" : hint));
    return std::nullopt;
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

std::vector<Expectation> parse_expect(Diagnostics& diag, const Entry& e) {
  MapReader m{diag, e, {}, {}, Keys::metric_names};
  std::vector<Expectation> out;
  for (const Entry& x : m.entries()) {
    const std::string_view metric = std::string_view{x.path}.substr(e.path.size() + 1);
    if (auto ex = parse_expectation(diag, x, metric)) out.push_back(std::move(*ex));
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

void parse_timing(Diagnostics& diag, MapReader& m, ScenarioSpec& spec) {
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
  }
}

std::optional<ScenarioSpec> parse_scenario(Diagnostics& diag, const YAML::Node& doc,
                                           const std::string& file) {
  const SourceLoc start{file, 1, 1};
  const Entry root{"", "the scenario", doc, start, doc.IsNull() ? start : diag.at(doc.Mark())};
  MapReader m{diag, root, kRootKeys, kRootReserved};
  if (!m.is_map()) return std::nullopt;
  ScenarioSpec spec;
  spec.file = file;
  spec.node_names = {"node-1"};
  parse_header(diag, m, spec);
  parse_timing(diag, m, spec);
  std::optional<WorldSpec> world;
  if (const Entry* w = m.require("world")) world = parse_world(diag, *w);
  if (world) spec.world = *world;
  if (const Entry* c = m.get("cluster")) spec.node_names = parse_cluster(diag, *c);
  if (const Entry* p = m.require("players")) spec.players = parse_players(diag, *p, world);
  if (const Entry* b = m.get("bots")) spec.bots = parse_bots(diag, *b, world);
  if (const Entry* n = m.get("network")) spec.network = parse_network(diag, *n);
  if (const Entry* x = m.get("expect")) spec.expect = parse_expect(diag, *x);
  if (!diag.empty()) return std::nullopt;
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Reading the YAML stream. yaml-cpp 0.7's LoadAll loops forever, allocating, when a token cannot
// start a node (a stray `,`: jbeder/yaml-cpp#1040, fixed upstream after 0.7): the parser reports
// an empty document without consuming the token, again and again. So the loader walks documents
// with the event parser, treats an empty document that makes no progress as malformed YAML, and
// builds nodes for the first document only (YAML::Load reads exactly one).

// Where a document's first node is and whether that node is all it holds, and empty.
class DocumentShape : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    root_ = mark;
    nodes_ = 0;
    null_root_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnMapEnd() override {}

  const YAML::Mark& root() const { return root_; }
  bool empty() const { return nodes_ == 1 && null_root_; }

 private:
  void node(const YAML::Mark& mark, bool is_null) {
    if (nodes_++ == 0) {
      root_ = mark;
      null_root_ = is_null;
    }
  }
  YAML::Mark root_;
  int nodes_{0};
  bool null_root_{false};
};

struct StreamShape {
  int documents{0};        // counted up to 3
  YAML::Mark second_root;  // the second document's first node, when documents >= 2
  std::optional<YAML::Mark> stuck_at;
};

// Throws YAML::Exception for malformed YAML, like the node API.
StreamShape scan_stream(const std::string& text) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  DocumentShape doc;
  StreamShape shape;
  std::optional<YAML::Mark> previous_empty_root;
  while (shape.documents < 3 && parser.HandleNextDocument(doc)) {
    ++shape.documents;
    if (shape.documents == 2) shape.second_root = doc.root();
    if (doc.empty() && previous_empty_root && previous_empty_root->pos == doc.root().pos) {
      shape.stuck_at = doc.root();
      break;
    }
    previous_empty_root = doc.empty() ? std::optional{doc.root()} : std::nullopt;
  }
  return shape;
}

// yaml-cpp's messages speak parser; for the mistakes designers actually make, say what to do.
std::string yaml_hint(std::string_view message) {
  if (message == YAML::ErrorMsg::CHAR_IN_BLOCK) {
    return " (a value starting with `>` or `|` begins a block of text in YAML: quote "
           "expectations, e.g. \"> 100\")";
  }
  if (message == YAML::ErrorMsg::END_OF_SEQ_FLOW) return " (a `[` is never closed)";
  if (message == YAML::ErrorMsg::END_OF_MAP_FLOW) return " (a `{` is never closed)";
  return {};
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& file_name) {
  Diagnostics diag{file_name};
  const std::string input{text};
  StreamShape shape;
  YAML::Node doc;
  try {
    shape = scan_stream(input);
    if (!shape.stuck_at && shape.documents > 0) doc = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    diag.error(diag.at(e.mark), fmt::format("malformed YAML: {}{}", e.msg, yaml_hint(e.msg)));
    return {std::nullopt, diag.take()};
  }
  if (shape.stuck_at) {
    const auto pos = static_cast<std::size_t>(shape.stuck_at->pos);
    diag.error(diag.at(*shape.stuck_at),
               pos < input.size() ? fmt::format("malformed YAML: unexpected `{}`", input[pos])
                                  : std::string{"malformed YAML"});
    return {std::nullopt, diag.take()};
  }
  if (shape.documents == 0 || doc.IsNull()) {
    diag.error({file_name, 1, 1},
               "scenario file is empty; it needs at least `name`, `duration`, `world` and "
               "`players`");
    return {std::nullopt, diag.take()};
  }
  if (shape.documents > 1) {
    diag.error(diag.at(shape.second_root),
               "a scenario file holds one YAML document, but a second one (after a `---` line) "
               "starts here");
  }
  auto spec = parse_scenario(diag, doc, file_name);
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
