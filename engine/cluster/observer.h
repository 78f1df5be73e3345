// ClusterObserver: read-only hooks through which the simulator's checkers and metrics watch the
// cluster protocol as it happens. Production code passes nullptr; nothing here feeds back into
// behaviour.
#pragma once

#include <cstdint>
#include <span>

#include "engine/cluster/protocol.h"
#include "engine/core/ids.h"

namespace shardsim::cluster {

class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;
  // A node simulated `cell` in a tick (called once per owned cell per tick).
  virtual void on_cell_tick(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) = 0;
  // A node stopped simulating `cell` (fenced, migrated it away).
  virtual void on_cell_release(std::uint32_t node, std::uint32_t cell) = 0;
  // A node took `cell` at `epoch`.
  virtual void on_cell_acquire(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) = 0;
  // Cross-node handover: trigger (border crossed + hysteresis + dwell) at the source ...
  virtual void on_handover_start(std::uint64_t hid, std::uint64_t player, std::uint32_t from,
                                 std::uint32_t to) = 0;
  // ... the source gave the player up (commit sent: in transit from here) ...
  virtual void on_handover_commit(std::uint64_t hid, std::uint64_t player) = 0;
  // ... and its end: ok = the target installed it; !ok = aborted (the source kept it).
  virtual void on_handover_end(std::uint64_t hid, std::uint64_t player, bool ok) = 0;
  // A gateway switched the player's route to `node` at authority generation `gen`.
  virtual void on_route(std::uint64_t player, std::uint32_t node, std::uint64_t gen) = 0;
  // Planned migration of a cell: its players as frozen at the source, and as installed at the target
  // (the drain checker compares the two: nothing may be lost).
  // `node` moves the cell to node `to` (1-based indices).
  virtual void on_migration_out(std::uint32_t node, std::uint32_t to, std::uint32_t cell,
                                std::span<const PlayerTransfer> players) = 0;
  virtual void on_migration_in(std::uint32_t cell, std::span<const PlayerTransfer> players) = 0;
};

}  // namespace shardsim::cluster
