#include "sim/scenario/cluster_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <span>
#include <utility>

namespace shardsim::scenario::detail {
namespace {

constexpr std::string_view kStore = "store";
constexpr std::string_view kDirectory = "directory";

bool is_gateway_name(std::string_view name) {
  constexpr std::string_view kPrefix = "gateway-";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) return false;
  return std::all_of(name.begin() + kPrefix.size(), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// What a node may not be called, because a Phase B host already has the name; "" if free.
std::string_view taken_by(std::string_view name) {
  if (name == kStore) return "the session store";
  if (name == kDirectory) return "the directory";
  if (is_gateway_name(name)) return "gateways";
  return {};
}

// One listed node name, or nullopt after reporting why it cannot be one.
std::optional<std::string> read_node_name(Diagnostics& diag, const Entry& node) {
  const auto name = read_scalar(diag, node, "a node name such as node-1");
  if (!name) return std::nullopt;
  if (!valid_node_name(*name)) {
    diag.error(node.loc, fmt::format("node name `{}` is invalid: use lowercase letters, digits and "
                                     "'-', starting with a letter, at most {} characters "
                                     "(like `node-1`)",
                                     *name, kMaxNodeNameLength));
    return std::nullopt;
  }
  if (const auto role = taken_by(*name); !role.empty()) {
    diag.error(node.loc,
               fmt::format("node name `{}` is reserved for {}; choose another name", *name, role));
    return std::nullopt;
  }
  if (*name == kRoleSource || *name == kRoleTarget) {
    diag.error(node.loc, fmt::format("node name `{}` is reserved: faults with `on:` use it for a "
                                     "role; choose another name",
                                     *name));
    return std::nullopt;
  }
  return name;
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
    const auto name = read_node_name(diag, node);
    if (!name) continue;
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

// The node names, or nullopt when `nodes` is wrong (already reported).
std::optional<std::vector<std::string>> read_nodes(Diagnostics& diag, const Entry& nodes) {
  const std::size_t errors_before = diag.count();
  if (nodes.value.IsSequence()) {
    auto names = parse_node_list(diag, nodes);
    if (diag.count() != errors_before) return std::nullopt;
    return names;
  }
  if (!nodes.value.IsScalar()) {
    diag.error(nodes.loc, fmt::format("{} must be a node count such as 1 or a list of node names "
                                      "such as [alpha, beta], got {}",
                                      nodes.name, kind_name(nodes.value)));
    return std::nullopt;
  }
  const auto count = read(diag, nodes, kCount, 1, kMaxNodes);
  if (!count) return std::nullopt;
  std::vector<std::string> names;
  for (std::int64_t i = 1; i <= *count; ++i) names.push_back(fmt::format("node-{}", i));
  return names;
}

// Default: one gateway as soon as there is more than one node (cross-node traffic needs it).
std::optional<int> read_gateways(Diagnostics& diag, const Entry* g, std::size_t nodes) {
  if (g == nullptr) return nodes > 1 ? 1 : 0;
  const auto v = read(diag, *g, kCount, 0, kMaxGateways);
  if (!v) return std::nullopt;
  if (*v == 0 && nodes > 1) {
    diag.error(g->loc, fmt::format("{} is 0, but {} nodes need at least one gateway: clients reach "
                                   "cells on other nodes through it; remove the key for the "
                                   "default of 1",
                                   g->name, nodes));
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

// A duration setting, its default when omitted, or nullopt when it is wrong.
std::optional<Duration> read_setting(Diagnostics& diag, const Entry* e, Duration fallback,
                                     Duration lo) {
  return e ? read_duration(diag, *e, lo, kMaxDuration) : std::optional{fallback};
}

// "`cluster.lease` (2s)", or "`cluster.lease` (2s, the default)" when the key was left out.
std::string shown(const Entry* e, std::string_view key, Duration d) {
  return e ? fmt::format("{} ({})", e->name, format_duration(d))
           : fmt::format("`cluster.{}` ({}, the default)", key, format_duration(d));
}

// lease > heartbeat > 0, 0 <= clock_drift_max < lease / 2, checkpoint > 0. A relation is checked
// only when both sides are valid; it points at the smaller side when given, else at the lease.
void read_lease_timing(Diagnostics& diag, const MapReader& m, ClusterSpec& c) {
  const Entry* lease_e = m.get("lease");
  const Entry* beat_e = m.get("heartbeat");
  const Entry* drift_e = m.get("clock_drift_max");
  const Entry* ckpt_e = m.get("checkpoint");
  const auto lease = read_setting(diag, lease_e, c.lease, Duration::micros(1));
  const auto beat = read_setting(diag, beat_e, c.heartbeat, Duration::micros(1));
  const auto drift = read_setting(diag, drift_e, c.clock_drift_max, Duration::zero());
  const auto ckpt = read_setting(diag, ckpt_e, c.checkpoint, Duration::micros(1));
  if (ckpt) c.checkpoint = *ckpt;
  if (!lease) return;
  c.lease = *lease;
  if (beat && *beat >= *lease) {
    diag.error((beat_e ? beat_e : lease_e)->loc,
               fmt::format("{} must be shorter than {}: a node renews its lease every heartbeat, "
                           "so it must renew before the lease runs out",
                           shown(beat_e, "heartbeat", *beat), shown(lease_e, "lease", *lease)));
  } else if (beat) {
    c.heartbeat = *beat;
  }
  if (drift && *drift * 2 >= *lease) {
    diag.error(
        (drift_e ? drift_e : lease_e)->loc,
        fmt::format("{} must be less than half of {}: two clocks may drift apart by twice "
                    "the allowance, and a lease must outlast that",
                    shown(drift_e, "clock_drift_max", *drift), shown(lease_e, "lease", *lease)));
  } else if (drift) {
    c.clock_drift_max = *drift;
  }
}

}  // namespace

bool is_phase_b_host_name(std::string_view name) { return !taken_by(name).empty(); }

// ---------------------------------------------------------------------------------------------
// Hosts

Hosts::Hosts(std::vector<std::string> nodes, int gateways)
    : nodes_{std::move(nodes)}, gateways_{gateways}, names_{nodes_} {
  if (!phase_b()) return;
  for (int i = 1; i <= gateways_; ++i) names_.push_back(fmt::format("gateway-{}", i));
  names_.emplace_back(kStore);
  names_.emplace_back(kDirectory);
}

bool Hosts::exists(std::string_view name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

bool Hosts::is_node(std::string_view name) const {
  return std::find(nodes_.begin(), nodes_.end(), name) != nodes_.end();
}

std::string_view Hosts::role(std::string_view name) const {
  if (is_node(name)) return "a node";
  if (name == kStore) return "the session store";
  if (name == kDirectory) return "the directory";
  return "a gateway";
}

namespace {

// node-1..node-N as a count names them, else the names (the first 8 and how many more).
std::vector<std::string> node_parts(std::span<const std::string> nodes) {
  std::vector<std::string> parts;
  bool numbered = true;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    numbered = numbered && nodes[i] == fmt::format("node-{}", i + 1);
  }
  constexpr std::size_t kShown = 8;
  if (numbered && nodes.size() > 2) {
    parts.push_back(fmt::format("node-1..node-{}", nodes.size()));
  } else {
    for (std::size_t i = 0; i < nodes.size() && i < kShown; ++i) parts.push_back(nodes[i]);
    if (nodes.size() > kShown)
      parts.back() += fmt::format(" (and {} more nodes)", nodes.size() - kShown);
  }
  return parts;
}

// "a, b and c"
std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : (i + 1 == parts.size() ? " and " : ", ")) + parts[i];
  }
  return out;
}

}  // namespace

std::string Hosts::describe() const {
  std::vector<std::string> parts = node_parts(nodes_);
  if (gateways_ > 2) {
    parts.push_back(fmt::format("gateway-1..gateway-{}", gateways_));
  } else {
    for (int i = 1; i <= gateways_; ++i) parts.push_back(fmt::format("gateway-{}", i));
  }
  if (phase_b()) {
    parts.emplace_back(kStore);
    parts.emplace_back(kDirectory);
  }
  return join_parts(parts);
}

std::string describe_nodes(std::span<const std::string> nodes) {
  return join_parts(node_parts(nodes));
}

// ---------------------------------------------------------------------------------------------
// cluster:

ClusterRead default_cluster() { return {{"node-1"}, ClusterSpec{}, true}; }

ClusterRead read_cluster(Diagnostics& diag, const Entry& e) {
  static constexpr std::string_view kKeys[] = {"nodes",           "gateways",  "assignment",
                                               "lease",           "heartbeat", "checkpoint",
                                               "clock_drift_max", "cross_node"};
  static constexpr Reserved kReserved[] = {{"directory", "a later issue"},
                                           {"session_store", "a later issue"}};
  static constexpr std::array<std::pair<std::string_view, Assignment>, 2> kAssignments{
      {{"rendezvous", Assignment::rendezvous}, {"least-loaded", Assignment::least_loaded}}};
  MapReader m{diag, e, kKeys, kReserved};
  ClusterRead out;
  const Entry* nodes_e = m.require("nodes");
  const auto nodes = nodes_e ? read_nodes(diag, *nodes_e) : std::nullopt;
  const auto gateways =
      nodes ? read_gateways(diag, m.get("gateways"), nodes->size()) : std::nullopt;
  if (!nodes) {  // the gateway count still gets checked on its own
    if (const Entry* g = m.get("gateways")) read(diag, *g, kCount, 0, kMaxGateways);
  }
  if (nodes) out.node_names = *nodes;
  if (gateways) out.cluster.gateways = *gateways;
  out.hosts_valid = nodes && gateways;
  if (const Entry* a = m.get("assignment")) {
    if (auto v = read_choice(diag, *a, kAssignments)) out.cluster.assignment = *v;
  }
  if (const Entry* x = m.get("cross_node")) {
    if (auto v = read_flag(diag, *x)) out.cluster.cross_node = *v;
  }
  read_lease_timing(diag, m, out.cluster);
  return out;
}

}  // namespace shardsim::scenario::detail
