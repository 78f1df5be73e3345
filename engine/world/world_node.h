// WorldNode: a sim node's server process in Phase A — it owns every cell of the world.
//
// Each tick, in this order: move entities; hand over entities that stayed beyond their cell's border +
// hysteresis for the dwell time (at the tick boundary, witness and all); keep every cell's NPC count in
// [min, max]; refresh ghosts; rebuild each cell's AOI index and send every joined client its batched AOI
// diff (enter / update / leave) over its reliable channel; service channel retransmissions and acks.
//
// Clients talk to the node only through messages (Join, MoveInput); the node is authoritative for
// positions and clamps inputs to the world and the configured speed limit. Randomness (NPCs) comes only
// from per-cell streams derived from the configured seed; time only from the Env clock.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/runtime/env.h"
#include "engine/world/cell.h"
#include "engine/world/config.h"

namespace shardsim {

class WorldNode;

// Called at the end of every tick with the node's full state, read-only. The simulator's checkers hook
// in here; a production build would pass nullptr.
class TickObserver {
 public:
  virtual ~TickObserver() = default;
  virtual void on_tick_end(const WorldNode& node, std::uint64_t tick) = 0;
};

class WorldNode final : public Process {
 public:
  struct Stats {
    std::uint64_t handovers_local{0};
    std::uint64_t aoi_messages{0};
    std::uint64_t aoi_bytes{0};
    std::uint64_t aoi_enters{0};
    std::uint64_t aoi_leaves{0};
    std::uint64_t aoi_client_ticks{0};  // (joined player, tick) pairs: the bytes-per-client-tick divisor
    std::uint64_t bots_spawned{0};
    std::uint64_t bots_despawned{0};
    std::uint64_t decode_errors{0};
    std::uint64_t channel_overflows{0};
    std::uint64_t retransmits{0};
    std::uint64_t inputs{0};
    std::uint64_t rejected_joins{0};
    std::uint64_t rejected_sessions{0};  // frames from unknown hosts beyond sessions_max
    std::uint64_t entities_max{0};
  };

  WorldNode(Env env, NodeConfig config, TickObserver* observer);

  void on_start() override;
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override;
  void on_timer(std::uint64_t tag) override;

  const NodeConfig& config() const { return config_; }
  const std::vector<Cell>& cells() const { return cells_; }
  std::uint64_t tick() const { return tick_; }
  bool player_spawned(std::uint64_t player_id) const {
    return player_id >= 1 && player_id <= config_.max_players && player_cell_[player_id - 1] >= 0;
  }
  std::uint64_t players_spawned() const { return players_spawned_; }
  std::size_t cell_index_at(Vec2 p) const;
  const Stats& stats() const { return stats_; }
  // Ticks between density-control passes (the checker verifies bounds right after each pass).
  std::uint64_t density_every() const { return density_every_; }

 private:
  struct Session {
    HostId client;
    std::uint64_t player_id{0};  // 0 until Join
    ReliableChannel channel;
  };

  void run_tick();
  void move_entities();
  void step_toward(Entity& e) const;
  void handovers();
  void control_density();
  void spawn_bot(Cell& cell);
  void exchange_ghosts();
  void publish_aoi();
  void publish_view(Cell& cell, Entity& player);
  void service_channels();
  void handle_payload(Session& session, std::span<const std::uint8_t> payload);
  void on_join(Session& session, const wire::Join& join);
  void on_move(Session& session, const wire::MoveInput& input);
  Vec2 clamp_to_world(Vec2 p) const;

  Env env_;
  NodeConfig config_;
  TickObserver* observer_;
  std::vector<Cell> cells_;
  std::vector<Session> sessions_;
  std::unordered_map<std::uint32_t, std::uint32_t> session_of_host_;  // lookup only, never iterated
  std::vector<std::int32_t> player_cell_;  // player id - 1 -> cell index, -1 if not spawned
  std::uint64_t players_spawned_{0};
  std::uint64_t next_bot_id_;
  std::uint64_t tick_{0};
  std::uint64_t density_every_{20};
  Time next_tick_at_;
  Stats stats_;
  // Scratch buffers reused every tick (no per-tick allocation in steady state).
  std::vector<AoiEntry> candidates_;
  std::vector<ViewEntry> new_view_;
  wire::AoiBatch batch_;
  std::vector<std::uint8_t> bytes_;
};

}  // namespace shardsim
