// The metric registry: every name a run reports and `expect:` may reference, with its unit (and two
// families, below: net.msg.<type>.* and node.<name>.*).
// Units decide how expectation values are written ("< 500ms", "< 1%", "== 0", "< 1.5") and how
// JSON reports them (durations in milliseconds, rates in percent, counts as integers, ratios as
// decimals).
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "sim/runner/message_types.h"
#include "sim/scenario/spec.h"

namespace shardsim {

enum class MetricUnit { count, bytes, duration_ms, percent, ratio };

struct MetricInfo {
  std::string_view name;
  MetricUnit unit;
  std::string_view help;
};

inline constexpr MetricInfo kMetrics[] = {
    {"players.lost", MetricUnit::count, "players authoritative in no cell (checked every tick)"},
    {"players.duplicated", MetricUnit::count, "players authoritative in more than one cell"},
    {"aoi.continuity_violations", MetricUnit::count,
     "client AOI stream anomalies: duplicate enter, update or leave of an entity not in view, "
     "ticks out of order, a spurious leave/enter (aoi.reentries)"},
    {"aoi.reentries", MetricUnit::count,
     "of those, an entity that left a client's view and entered it again faster than it can "
     "cross the hysteresis, outside faults"},
    {"aoi.oracle_mismatches", MetricUnit::count,
     "server AOI views disagreeing with the brute-force oracle: on one node beyond hysteresis + "
     "one tick; in a cluster, sampled every 1.25 s (defaults) with slack for ghost lag "
     "(cluster_oracle.h)"},
    {"aoi.oracle_views", MetricUnit::count, "player views the AOI oracle compared"},
    {"aoi.messages", MetricUnit::count, "AOI batches sent to clients"},
    {"aoi.bytes", MetricUnit::bytes, "AOI payload bytes sent to clients"},
    {"aoi.bytes_per_client_tick", MetricUnit::bytes, "mean AOI payload bytes per client per tick"},
    {"aoi.enters", MetricUnit::count, "AOI enter operations sent"},
    {"aoi.leaves", MetricUnit::count, "AOI leave operations sent"},
    {"handover.local.count", MetricUnit::count, "entities handed over between cells of one node"},
    {"bots.spawned", MetricUnit::count, "NPCs spawned by density control"},
    {"bots.despawned", MetricUnit::count, "NPCs despawned by density control"},
    {"bots.density_violations", MetricUnit::count,
     "cell density checks that found a cell outside [min, max] after correction"},
    {"entities.max", MetricUnit::count, "peak number of entities (players + NPCs)"},
    {"events", MetricUnit::count, "kernel events processed"},
    {"net.messages", MetricUnit::count, "messages sent over the simulated network"},
    {"net.bytes", MetricUnit::bytes, "payload bytes sent over the simulated network"},
    {"net.dropped", MetricUnit::count, "messages dropped by the network model"},
    {"net.duplicated", MetricUnit::count, "messages duplicated by the network model"},
    {"net.decode_errors", MetricUnit::count, "received messages rejected by the codec"},
    {"channel.retransmits", MetricUnit::count, "reliable-channel retransmissions"},
    {"channel.overflows", MetricUnit::count, "reliable-channel sends refused because the window was full"},
    {"client.inputs", MetricUnit::count, "movement inputs sent by clients"},
    {"client.view_lag.max", MetricUnit::duration_ms,
     "longest time a client's applied AOI stream trailed the server"},
    // Phase B (cross-node); all zero in a one-node run.
    {"handover.cross_node.count", MetricUnit::count,
     "cross-node handovers completed (target authoritative, gateway route updated)"},
    {"handover.cross_node.latency.p50", MetricUnit::duration_ms,
     "median cross-node handover latency, trigger to route updated"},
    {"handover.cross_node.latency.p99", MetricUnit::duration_ms, "99th-percentile cross-node handover latency, trigger to route updated"},
    {"handover.cross_node.latency.max", MetricUnit::duration_ms, "slowest cross-node handover"},
    {"handover.cross_node.started", MetricUnit::count, "cross-node handovers triggered"},
    {"handover.failure_rate", MetricUnit::percent,
     "cross-node handovers that aborted or timed out, of those that ended"},
    {"cell.migrations", MetricUnit::count, "cells moved between nodes by planned migration"},
    {"cell.reassignments", MetricUnit::count, "cells reassigned because their owner's lease lapsed"},
    {"recovery.time.max", MetricUnit::duration_ms, "longest time from a crash to every cell served again"},
    {"players.unavailable.max", MetricUnit::duration_ms,
     "longest time a player was held by no node (in-flight transfers excluded)"},
    {"players.restored", MetricUnit::count, "players rebuilt from the session store after a failover"},
    {"split_brain.violations", MetricUnit::count, "cells simulated by two nodes at the same time"},
    {"epoch.violations", MetricUnit::count, "cells taken at an epoch not above the last one"},
    {"ledger.acked_lost", MetricUnit::count,
     "players whose authoritative ledger lost an action acknowledged to the client"},
    {"ledger.corrupt", MetricUnit::count,
     "players whose ledger value is not their action count: an action applied twice or skipped"},
    {"ledger.actions_acked", MetricUnit::count, "durable actions acknowledged to clients"},
    {"migration.lost", MetricUnit::count,
     "players lost or changed between a migration's source and its target"},
    {"liveness.violations", MetricUnit::count,
     "after the last fault + bound: unserved cells, unheld or misrouted players, pending handovers"},
    {"liveness.checked", MetricUnit::count, "1 if the run lasted long enough to check liveness"},
    {"gateway.buffered.max", MetricUnit::count, "most client frames a gateway held at once"},
    {"gateway.dropped", MetricUnit::count, "client frames a full gateway buffer refused"},
    {"store.writes", MetricUnit::count, "player records written to the session store"},
    {"auth.rejected", MetricUnit::count, "cluster messages refused: outside membership or bad tag"},
    {"node.fences", MetricUnit::count, "times a node fenced itself (lease lapsed or revoked)"},
    {"node.load.max", MetricUnit::count, "most entities on one node at the end"},
    {"node.load.min", MetricUnit::count, "fewest entities on one running node at the end"},
    {"node.load.imbalance.mean", MetricUnit::ratio,
     "time-weighted mean of max node load / mean node load, sampled every 250 ms (1 = even)"},
    {"net.cluster.messages", MetricUnit::count, "node/store/directory/gateway protocol messages"},
    {"net.cluster.bytes", MetricUnit::bytes, "bytes of node/store/directory/gateway protocol messages"},
    {"faults.triggered", MetricUnit::count, "faults with `on:` that fired"},
};

// Beside the registry, a first family: net.msg.<type>.count and net.msg.<type>.bytes, messages
// sent of each type and their bytes (sim/runner/message_types.h lists the types). A run reports,
// after the registry's metrics, only the types that occurred; `expect:` may name any type, and one
// that did not occur reads as 0.
inline constexpr std::string_view kMessageMetricPrefix = "net.msg.";

struct MessageMetric {
  std::string_view type;  // "cluster.ghosts"
  MetricUnit unit;        // count (.count) or bytes (.bytes)
};

// `name` cut into net.msg. <type> .count|.bytes; nullopt if it has not that shape. The type is not
// checked (sim::is_message_type does that).
constexpr std::optional<MessageMetric> split_message_metric(std::string_view name) {
  if (!name.starts_with(kMessageMetricPrefix)) return std::nullopt;
  name.remove_prefix(kMessageMetricPrefix.size());
  for (const auto& [suffix, unit] : {std::pair{std::string_view{".count"}, MetricUnit::count},
                                     std::pair{std::string_view{".bytes"}, MetricUnit::bytes}}) {
    if (name.size() > suffix.size() && name.ends_with(suffix))
      return MessageMetric{name.substr(0, name.size() - suffix.size()), unit};
  }
  return std::nullopt;
}

// The other family: node.<name>.<field>, one sim node's load in a cluster run (sim/runner/
// node_load.h says what is counted and when). A run reports, after the message types, every field
// of every node of the scenario, node by node in the scenario's order and the fields in
// kNodeFields' order; a Phase A run (one node, or `cluster.cross_node: false`) reports none, and
// reads them as 0 like node.load.max. Which node names exist depends on the scenario: the loader
// checks them, find_metric only their spelling.
inline constexpr std::string_view kNodeMetricPrefix = "node.";

inline constexpr MetricInfo kNodeFields[] = {
    {"cells.end", MetricUnit::count, "cells the node simulates at the end (owned, not migrating)"},
    {"players.end", MetricUnit::count, "players the node simulates at the end"},
    {"players.peak", MetricUnit::count, "most players the node simulated at one sample"},
    {"load.end", MetricUnit::count, "entities (players + NPCs) the node simulates at the end"},
    {"load.peak", MetricUnit::count, "most entities the node simulated at one sample"},
};

struct NodeMetric {
  std::string_view node;    // "node-2"
  const MetricInfo* field;  // in kNodeFields
};

// `name` cut into node. <node> . <field>, or nullopt if it has not that shape with a known field.
// Node names have no dot (scenario::valid_node_name), so the node is everything up to the first
// dot after the prefix. A registered metric such as node.load.max is not one: "max" is no field.
constexpr std::optional<NodeMetric> split_node_metric(std::string_view name) {
  if (!name.starts_with(kNodeMetricPrefix)) return std::nullopt;
  name.remove_prefix(kNodeMetricPrefix.size());
  const auto dot = name.find('.');
  if (dot == std::string_view::npos || !scenario::valid_node_name(name.substr(0, dot)))
    return std::nullopt;
  for (const auto& f : kNodeFields)
    if (name.substr(dot + 1) == f.name) return NodeMetric{name.substr(0, dot), &f};
  return std::nullopt;
}

// A registered metric, or one of the two families (whose name then views `name`).
inline std::optional<MetricInfo> find_metric(std::string_view name) {
  for (const auto& m : kMetrics)
    if (m.name == name) return m;
  if (const auto mm = split_message_metric(name); mm && sim::is_message_type(mm->type)) {
    return MetricInfo{name, mm->unit,
                      mm->unit == MetricUnit::count ? "messages of this type sent"
                                                    : "bytes of the messages of this type sent"};
  }
  if (const auto nm = split_node_metric(name))
    return MetricInfo{name, nm->field->unit, nm->field->help};
  return std::nullopt;
}

}  // namespace shardsim
