// ClusterOracle: Phase B's AOI oracle (aoi.oracle_mismatches in a cluster run).
//
// Phase A's OracleChecker compares each view with the positions on its one node, every tick. Across
// nodes a view is built partly from ghosts, which arrive a tick and a network delay late and are
// lost with the network's loss; an exact per-tick comparison would flag every ghost in flight. So
// this oracle compares at samples (every 1.25 s by default: cluster_run.cpp), with slack for that lag,
// and only what was in place at two samples a whole interval apart (not necessarily throughout):
//
//   truth     every real entity of every running node's owned cells (a frozen migrating cell's
//             too: its entities are still there to be seen), by id and position
//   missing   a player's view (its witness: what its client has been sent, on the node that holds
//             it) lacks an entity that is real within radius - margin of the player
//   stale     a view holds an entity that is real beyond radius + hysteresis + margin, or that was
//             real nowhere, and in nobody's transit (a handover, a migration's transfer), both now
//             and at the previous sample
//
// margin = 2 x the fastest speed x (2 heartbeats + ghost TTL + 2 ticks): how far apart the player
// and a ghost's last word can have drifted since the view was built. Ghosts go where a node's cell
// table says, and a table can show who owns a migrated cell's neighbours a heartbeat or two late;
// meanwhile a departed copy stands where the entity left (9.6 m with 6 m/s, 250 ms heartbeats). Only steady pairs count: the player held by
// the same node at the previous sample and now, and not in transit at either (an arriving player's
// witness may hold what its new node has no ghost of yet: Session::hold_witness); for "missing",
// the entity real at both samples. Faults excuse a sample (the runner passes `quiet`, the same
// bracket the continuity checker's re-entry rule uses).
//
// The truth is bucketed in a grid of cells of radius + hysteresis + margin, so a player's
// candidates are in the 3 x 3 buckets around it; ids are looked up in an id-sorted copy (Phase B
// NPC ids carry their spawner's lease in their high bits, so they are not dense).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/divider.h"
#include "engine/world/world_node.h"
#include "sim/checkers/checkers.h"

namespace shardsim::sim {

class ClusterOracle {
 public:
  struct Config {
    std::int64_t width_mm{0};
    std::int64_t height_mm{0};
    std::int64_t radius_mm{0};
    std::int64_t outer_mm{0};   // radius + hysteresis
    std::int64_t margin_mm{0};  // slack for ghost lag (see above)
    std::uint32_t players{0};
  };
  // margin_for: 2 x fastest speed x lag, rounded up to a mm; the runner passes the witness hold
  // (2 heartbeats + ghost TTL) + 2 ticks.
  static std::int64_t margin_for(std::int64_t max_speed_mm_s, Duration lag);

  ClusterOracle(ViolationLog& log, Config config);
  // nodes[i]: node i+1 if running (up, not paused), else null. `quiet`: no fault is active or
  // settling; a sample taken while not quiet checks nothing, but still becomes the previous sample.
  void sample(std::span<WorldNode* const> nodes, Time now, bool quiet);

  std::uint64_t mismatches() const { return mismatches_; }
  std::uint64_t views_checked() const { return views_checked_; }

 private:
  struct Item {
    std::uint64_t id;
    Vec2 pos;
  };
  void take_truth(std::span<WorldNode* const> nodes);
  const Item* find(std::uint64_t id) const;
  bool was_real(std::uint64_t id) const;  // real or in transit at the previous sample
  bool in_transit(std::uint64_t id) const;
  void check_view(const Entity& player, Time now);

  ViolationLog& log_;
  Config config_;
  GridAxis cols_;  // buckets of radius + hysteresis + margin, clamped to the world
  GridAxis rows_;
  std::size_t bucket_of(Vec2 p) const {
    return static_cast<std::size_t>(rows_(p.y) * cols_.buckets() + cols_(p.x));
  }
  std::vector<Item> by_id_;                // this sample's truth, sorted by id
  std::vector<Item> by_bucket_;            // the same, grouped by bucket
  std::vector<std::uint32_t> bucket_start_;  // cols * rows + 1 offsets into by_bucket_
  std::vector<std::uint64_t> transit_;     // ids in some node's transit now, sorted
  std::vector<std::uint64_t> prev_real_;   // ids real or in transit at the previous sample, sorted
  std::vector<std::uint32_t> holder_;      // per player: holding node + 1, or 0 (this sample)
  std::vector<std::uint32_t> prev_holder_;
  std::vector<std::uint64_t> scratch_;
  std::uint64_t samples_{0};
  std::uint64_t mismatches_{0};
  std::uint64_t views_checked_{0};
};

}  // namespace shardsim::sim
