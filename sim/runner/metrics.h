// The metric registry: every name a run reports and `expect:` may reference, with its unit.
// Units decide how expectation values are written ("< 500ms", "< 1%", "== 0") and how JSON reports them
// (durations in milliseconds, rates in percent, counts as integers).
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace shardsim {

enum class MetricUnit { count, bytes, duration_ms, percent };

struct MetricInfo {
  std::string_view name;
  MetricUnit unit;
  std::string_view help;
};

inline constexpr MetricInfo kMetrics[] = {
    {"players.lost", MetricUnit::count, "players authoritative in no cell (checked every tick)"},
    {"players.duplicated", MetricUnit::count, "players authoritative in more than one cell"},
    {"aoi.continuity_violations", MetricUnit::count,
     "client AOI stream anomalies: duplicate enter, update or leave of an entity not in view"},
    {"aoi.oracle_mismatches", MetricUnit::count,
     "server AOI views disagreeing with the brute-force oracle beyond hysteresis + one tick"},
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
};

inline std::optional<MetricInfo> find_metric(std::string_view name) {
  for (const auto& m : kMetrics)
    if (m.name == name) return m;
  return std::nullopt;
}

}  // namespace shardsim
