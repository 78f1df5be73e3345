// NodeConfig: everything a world node needs to know, as validated numbers (the simulator translates the
// scenario into this; a real deployment would read it from its own config).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/core/time.h"
#include "engine/net/reliable_channel.h"

namespace shardsim {

// Phase B: this node's place in the cluster. Disabled = Phase A (the node owns every cell, clients
// connect to it directly).
struct ClusterNodeConfig {
  bool enabled{false};
  std::uint32_t index{0};         // 1-based; nodes[index - 1] is this host
  std::vector<HostId> nodes;
  std::vector<HostId> gateways;
  HostId store;
  HostId directory;
  Duration lease{Duration::seconds(2)};
  Duration heartbeat{Duration::millis(250)};
  Duration checkpoint{Duration::seconds(1)};
  Duration drift_allowance{Duration::millis(50)};
  Duration request_timeout{Duration::millis(150)};  // handover request -> ready/reject
  Duration commit_timeout{Duration::millis(150)};   // commit -> ack, per try
  std::uint32_t request_tries{2};
  std::uint32_t commit_tries{3};
  Duration store_timeout{Duration::millis(200)};    // store / directory request retry
  Duration ghost_ttl{Duration::millis(200)};        // remote ghosts older than this are dropped
  std::uint64_t auth_key{0};
  // Deliberate bugs (scenario `bugs:`), to prove the checkers catch them.
  bool bug_skip_lease_check{false};
  bool bug_ack_before_durable{false};
  bool bug_unfenced_abort{false};
  bool bug_ghost_gap{false};
  bool bug_ghost_no_corners{false};
};

struct NodeConfig {
  std::uint64_t seed{1};  // seeds NPC behaviour; the engine has no other randomness
  std::int64_t width_mm{0};
  std::int64_t height_mm{0};
  int cells_x{1};
  int cells_y{1};
  std::int64_t aoi_radius_mm{0};
  std::int64_t hysteresis_mm{0};
  Duration handover_dwell{Duration::millis(500)};
  Duration tick{Duration::millis(50)};
  std::uint32_t max_players{0};  // player ids are 1..max_players; NPC ids start above
  // Client sessions the node keeps; frames from further unknown hosts are refused and counted, so junk
  // from many hosts cannot grow memory without bound. 0 means max_players.
  std::uint32_t sessions_max{0};
  std::int64_t player_speed_max_mm_s{6000};
  int bots_min{0};
  int bots_max{0};
  std::int64_t bot_speed_min_mm_s{500};
  std::int64_t bot_speed_max_mm_s{2000};
  Duration density_interval{Duration::seconds(1)};
  ReliableChannel::Config channel;
  ClusterNodeConfig cluster;

  std::int64_t cell_width_mm() const { return width_mm / cells_x; }
  std::int64_t cell_height_mm() const { return height_mm / cells_y; }
  std::int64_t aoi_outer_mm() const { return aoi_radius_mm + hysteresis_mm; }
  std::int64_t max_speed_mm_s() const {
    return player_speed_max_mm_s > bot_speed_max_mm_s ? player_speed_max_mm_s : bot_speed_max_mm_s;
  }
  // How far beyond its cell's rectangle a real entity can be: the hysteresis plus what it can travel
  // during the dwell and two ticks of slack.
  std::int64_t owner_slack_mm() const {
    return hysteresis_mm + max_speed_mm_s() * (handover_dwell + tick * 2).us() / 1'000'000;
  }
  // Entities within this distance of a cell's rectangle are ghosted into it. The handover test is per
  // axis, so a real viewer can be the slack outside the rectangle on *both* axes — up to slack * sqrt 2
  // away in straight line past a corner — and it sees up to the outer AOI radius beyond that.
  // (14143 / 10000 > sqrt 2, rounded up: the margin never falls short.)
  std::int64_t ghost_margin_mm() const {
    return (owner_slack_mm() * 14'143 + 9'999) / 10'000 + aoi_outer_mm();
  }
  // Phase B. How long an entity that left a node stays ghosted where it left (WorldNode::Departed):
  // the new owner sends ghosts by its cell table, which may show who owns the cells around a
  // migrated cell a heartbeat or more late.
  Duration departed_for() const {
    return std::max(tick * 2, cluster.heartbeat * 4 + cluster.ghost_ttl);
  }
  // Phase B. How long a player arriving in a cell that just became its node's keeps witness
  // entries the node has no ghost of yet (WorldNode::Session::hold_witness): until the other
  // nodes' tables name the cell's new owner (a heartbeat or two) and their ghosts arrive.
  Duration witness_hold() const { return cluster.heartbeat * 2 + cluster.ghost_ttl; }
};

}  // namespace shardsim
