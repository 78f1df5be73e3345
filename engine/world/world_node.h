// WorldNode: a sim node's server process in Phase A — it owns every cell of the world.
//
// Each tick, in this order: move entities; hand over entities that stayed beyond their cell's border +
// hysteresis for the dwell time (at the tick boundary, witness and all); keep every cell's NPC count in
// [min, max]; rebuild the node's AOI index (its cells' reals; in Phase B also other nodes' ghosts) and
// send every joined client its batched AOI diff (enter / update / leave) over its reliable channel;
// service channel retransmissions and acks.
//
// Clients talk to the node only through messages (Join, MoveInput); the node is authoritative for
// positions and clamps inputs to the world and the configured speed limit. Randomness (NPCs) comes only
// from per-cell streams derived from the configured seed; time only from the Env clock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "engine/cluster/observer.h"
#include "engine/cluster/protocol.h"
#include "engine/core/divider.h"
#include "engine/runtime/env.h"
#include "engine/world/aoi_index.h"
#include "engine/world/cell.h"
#include "engine/world/config.h"

namespace shardsim {

class WorldNode;

// Phase B: a Transport that wraps each ReliableChannel frame of one player's stream in a tunnel item
// for the player's gateway. Items are bundled: everything one handler (a tick, a message) sends to a
// gateway leaves as authenticated `tunnel_batch` messages of at most kBatchBytes of items each — one
// datagram's worth, as a real node would pack its per-client updates — flushed when the handler ends
// or before any other cluster message (route_update, hold, pong...) goes out, so the order of the
// node's sends on each node -> gateway link is unchanged. Nothing waits across events: the node
// calls flush() at the end of every handler.
class TunnelTransport final : public Transport {
 public:
  static constexpr std::size_t kBatchBytes = 1200;
  TunnelTransport(Transport& inner, const cluster::Auth& auth) : inner_{inner}, auth_{auth} {}
  HostId self() const override { return inner_.self(); }
  void send(HostId to, std::span<const std::uint8_t> bytes) override;
  // Sends every pending batch (in the order their gateways were first used) and empties them.
  void flush();
  cluster::Tunnel msg;  // player, gen, chan_epoch set by the caller

 private:
  struct Batch {
    HostId to;
    cluster::TunnelBatch body;
  };
  void flush(Batch& b);
  Transport& inner_;
  const cluster::Auth& auth_;
  std::vector<Batch> batches_;  // one per gateway seen, reused
  bool pending_{false};
};

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
    // Phase B.
    std::uint64_t handovers_started{0};
    std::uint64_t handovers_committed{0};  // source gave the player up
    std::uint64_t handovers_installed{0};  // target took it (a success)
    std::uint64_t handovers_aborted{0};    // source kept it (reject, timeout, fenced target)
    std::uint64_t handover_retries{0};
    std::uint64_t stray_frames{0};         // client frames for players this node does not own
    std::uint64_t auth_rejected{0};
    std::uint64_t fences{0};
    std::uint64_t players_restored{0};
    std::uint64_t players_dropped{0};      // given up because the store says someone else owns them
    std::uint64_t checkpoints{0};          // records sent in periodic checkpoints
    std::uint64_t write_throughs{0};       // records sent for durable actions
    std::uint64_t actions{0};
    std::uint64_t migrations_out{0};
    std::uint64_t migrations_in{0};
    std::uint64_t npcs_dropped_at_border{0};
  };

  WorldNode(Env env, NodeConfig config, TickObserver* observer,
            cluster::ClusterObserver* cluster_observer = nullptr);

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

  // Phase B views for the simulator's checkers.
  bool cell_active(std::size_t ci) const { return cell_state_[ci].owned && !cell_state_[ci].frozen; }
  bool cell_owned(std::size_t ci) const { return cell_state_[ci].owned; }
  std::uint64_t cell_epoch(std::size_t ci) const { return cell_state_[ci].epoch; }
  std::uint32_t index() const { return config_.cluster.index; }
  // Players this node has given up but nobody is known to hold yet (commit sent, cell transfer sent).
  void in_transit(std::vector<std::uint64_t>& out) const;
  // The ids (players and NPCs) of the cells migrating to us whose transfer we hold but have not
  // installed yet: real nowhere meanwhile (for the checkers).
  void migrating_in(std::vector<std::uint64_t>& out) const;
  std::size_t handovers_pending() const { return outbound_.size() + installing_.size(); }
  // How long the oldest cross-node handover this node started has been open (zero if none).
  Duration oldest_handover_age() const;
  bool draining() const { return draining_; }
  bool drained() const { return left_; }
  bool has_lease() const { return lease_id_ != 0; }
  // Operator command (planned shutdown): migrate every cell away, then give the lease back.
  void drain();

 private:
  // Four cache lines, line-aligned (the channel is 216 bytes): a tick touches every player's, cold,
  // and publish_aoi() prefetches them whole; unaligned, a 264-byte session straddled five or six.
  struct alignas(64) Session {
    HostId client;                 // Phase A: the client; Phase B: the player's gateway
    bool live{true};
    bool frozen{false};            // Phase B: its player is migrating; the stream pauses
    // Phase B: arrived (with a migrated cell, or by a handover) in a cell that became ours moments
    // ago, whose neighbours' owners do not send us their ghosts until they learn from the directory
    // that the cell is ours: for this many more published ticks the witness keeps what the index
    // does not show (publish_view), instead of telling the client it left (witness_hold_ticks()).
    // In the padding after `frozen`.
    std::uint16_t hold_witness{0};
    std::uint64_t player_id{0};    // 0 until Join
    std::uint64_t last_tick{0};    // tick number of the stream's last AOI batch (0: none yet)
    std::uint64_t chan_epoch{0};   // Phase B: the stream's epoch
    std::uint64_t gen{0};          // Phase B: authority generation stamped on tunnel frames
    ReliableChannel channel;
  };
  struct CellState {
    bool owned{false};
    bool frozen{false};       // migrating out: not simulated, transfer in flight
    bool restoring{false};    // failover restore requested from the store
    bool transfer_sent{false};
    std::uint64_t epoch{0};
    std::uint32_t migrate_to{0};
    Time retry_at;
    Time acquired;            // when it became ours (witness_hold_ticks())
  };
  // Source side of a cross-node handover.
  struct Outbound {
    enum class Phase : std::uint8_t { requested, committed, resolving };
    Phase phase{Phase::requested};
    std::uint64_t player{0};
    std::uint32_t from_cell{0};
    std::uint32_t to_cell{0};
    std::uint32_t to_node{0};
    std::uint64_t to_epoch{0};
    std::uint32_t tries{0};
    Time started;
    Time deadline;
    cluster::HoCommit commit;  // once committed: the player as it left
    std::uint64_t resolve_req{0};
  };
  // Target side: commit accepted, store cas in flight.
  struct Installing {
    cluster::HoCommit commit;
    HostId source;
  };
  struct StoreReq {
    enum class Kind : std::uint8_t { join, install, resolve, write, restore, migrate, orphan };
    Kind kind{Kind::write};
    std::uint64_t key{0};  // hid (install/resolve), cell (restore/migrate), player (join)
    std::vector<std::uint8_t> bytes;  // sealed request, for retries (not for write)
    Time retry_at;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> writes;  // write: (player, ledger_seq)
  };
  struct RemoteGhosts {
    std::vector<cluster::GhostEntry> entries;
    Time received;
  };
  struct Migration {  // target side of a cell migration
    cluster::CellTransfer transfer;
    HostId source;
    std::uint64_t req{0};
    bool directory_done{false};
    Time retry_at;
    Time arrived;  // when the transfer reached us (its entities are shown for departed_for())
  };

  void run_tick();
  void move_entities();
  // Inlined into move_entities(), which calls it for nearly every entity every tick: as a call, its
  // prologue and epilogue (six registers saved and restored) and the reloads of the configuration
  // were a fifth of move_entities' cost on entities_10k.
  [[gnu::always_inline]] inline void step_toward(Entity& e) const;
  void handovers();
  void control_density();
  void spawn_bot(Cell& cell);
  void exchange_ghosts();
  void publish_aoi();
  void publish_view(Entity& player);
  std::uint32_t authority_rank(const AoiEntry& e) const;
  static constexpr std::size_t kRankSortMax = 12;
  AoiEntry* sort_candidates(AoiEntry* cand, std::size_t n);
  void service_channels();
  void handle_payload(Session& session, std::span<const std::uint8_t> payload);
  void on_join(Session& session, const wire::Join& join);
  void on_move(Session& session, const wire::MoveInput& input);
  void on_action(Session& session, const wire::Action& action);
  Vec2 clamp_to_world(Vec2 p) const;
  // The grid columns [x0, x1] and rows [y0, y1] that p grown by `margin` on every side touches.
  struct CellSpan {
    std::int64_t x0, x1, y0, y1;
  };
  CellSpan cells_around(Vec2 p, std::int64_t margin) const;
  // cells_around(p, margin) for p inside cell ci's rectangle with a margin narrower than a cell:
  // only the 8 neighbours are reachable, and which ones follows from four comparisons with the
  // rectangle (the last row and column absorb the world's remainder, which the clamp covers) — no
  // divisions. False, with `span` unset, if that does not apply.
  // (col, row) is ci's place in the grid.
  bool cells_around_inside(std::size_t ci, std::int64_t col, std::int64_t row, Vec2 p,
                           std::int64_t margin, CellSpan& span) const;
  Entity* find_player(std::uint64_t player_id);
  Transport& channel_transport(Session& s);
  void send_to_client(Session& s, std::span<const std::uint8_t> payload);

  // Phase B (world_node_cluster.cpp).
  template <class M>
  void send_cluster(HostId to, cluster::Msg type, M& m);
  bool lease_valid() const;
  void send_heartbeat();
  void on_cluster_message(HostId from, std::span<const std::uint8_t> bytes);
  void on_tunnel(HostId gateway, const cluster::TunnelView& t);
  void on_table(const cluster::Table& t);
  void apply_table();
  void fence(const char* why);
  void release_cell(std::size_t ci, std::uint64_t why);
  void acquire_cell(std::size_t ci, std::uint64_t epoch, std::uint64_t how);
  void cluster_tick();
  void start_handover(std::size_t ci, Entity& e, std::size_t target);
  void on_ho_request(HostId from, const cluster::HoRequest& m);
  void on_ho_ready(const cluster::HoReply& m);
  void on_ho_reject(const cluster::HoReply& m);
  void on_ho_commit(HostId from, cluster::HoCommit& m);
  void on_ho_ack(const cluster::HoReply& m);
  void on_ho_nack(const cluster::HoReply& m);
  void abort_outbound(std::uint64_t hid, std::uint64_t reason);
  void resolve_outbound(std::uint64_t hid);
  void on_cas_reply(cluster::StoreCasReply& m);
  void on_write_reply(const cluster::StoreWriteReply& m);
  void on_restore_reply(cluster::StoreRestoreReply& m);
  void on_cell_transfer(HostId from, cluster::CellTransfer& m);
  void on_cell_transfer_ack(const cluster::CellTransferAck& m);
  void on_migration_done_ack(const cluster::MigrationDone& m);
  void send_transfer(std::size_t ci);
  void install_player(std::size_t ci, const cluster::PlayerTransfer& t, std::uint64_t gen,
                      bool fresh_stream);
  cluster::PlayerTransfer save_player(Entity& e);
  void drop_player_session(Entity& e);
  cluster::PlayerRecord record_of(const Entity& e, std::uint32_t cell) const;
  std::uint64_t store_request(StoreReq::Kind kind, std::uint64_t key, cluster::Msg type,
                              std::vector<std::uint8_t>& sealed);
  void send_checkpoints(bool only_actions);
  void send_ghosts();
  void send_restore();
  void orphan_players(const std::vector<cluster::PlayerTransfer>& players);
  void in_transit_ghosts(std::vector<cluster::GhostEntry>& out);
  // Ticks for which a player arriving in cell `ci` keeps witness entries our index does not show
  // (Session::hold_witness): other nodes learn that a cell is ours from the directory, a heartbeat
  // or two after it became ours, and only then send us their ghosts around it.
  std::uint16_t witness_hold_ticks(std::size_t ci) const;
  Duration departed_for() const { return config_.departed_for(); }
  // Keeps an entity that just left us as a Departed copy where it stood (not with bug_ghost_gap).
  void depart(std::uint64_t id, wire::EntityKind kind, Vec2 pos) {
    if (config_.cluster.bug_ghost_gap) return;
    departed_.push_back({id, kind, pos, env_.clock.now() + departed_for()});
  }
  void retry_requests();
  std::uint32_t new_session(HostId peer, std::uint64_t player, std::uint64_t chan_epoch);

  Env env_;
  NodeConfig config_;
  TickObserver* observer_;
  std::vector<Cell> cells_;
  Divider by_cell_width_;  // cell_index_at() runs for every entity every tick
  Divider by_cell_height_;
  std::vector<Session> sessions_;
  std::vector<std::uint8_t> channel_frames_;  // shared by the sessions' channels (config_.channel)
  // Phase A: client host value -> index in sessions_, kNoSession if none. Host ids are dense and
  // small (the simulator numbers hosts from 0), so a vector beats a hash map on every message.
  static constexpr std::uint32_t kNoSession = ~std::uint32_t{0};
  std::vector<std::uint32_t> session_of_host_;
  std::vector<std::int32_t> player_cell_;  // player id - 1 -> cell index, -1 if not spawned
  std::uint64_t players_spawned_{0};
  std::uint64_t next_bot_id_;
  std::uint64_t tick_{0};
  std::uint64_t density_every_{20};
  Time next_tick_at_;
  Stats stats_;
  // Scratch buffers reused every tick (no per-tick allocation in steady state).
  AoiIndex index_;  // the active cells' reals and the ghosts from other nodes, rebuilt each tick
  std::vector<AoiEntry> candidates_;
  std::array<AoiEntry, kRankSortMax> rank_sorted_;  // sort_candidates() scratch
  std::vector<ViewEntry> new_view_;
  wire::AoiBatch batch_;  // publish_view's enters and leaves (its updates go to updates_)
  std::vector<wire::AoiUpdate> updates_;  // publish_view's updates: scratch that only grows
  std::vector<std::uint8_t> bytes_;

  // Phase B state.
  cluster::ClusterObserver* cobs_;
  cluster::Auth auth_;
  TunnelTransport tunnel_;
  std::vector<CellState> cell_state_;
  std::vector<std::uint64_t> held_epoch_;  // per cell: the highest epoch this process ever held
  std::vector<std::int32_t> session_of_player_;  // player id - 1 -> session, -1 none (Phase B)
  std::vector<std::uint32_t> free_sessions_;
  std::uint64_t lease_id_{0};
  std::uint64_t lease_nonce_{0};
  Time lease_until_;
  std::uint64_t hb_seq_{0};
  std::map<std::uint64_t, Time> hb_sent_;  // seq -> local send time, the last few
  std::vector<cluster::CellEntry> table_;
  std::vector<std::uint64_t> table_leases_;
  std::uint64_t table_version_{0};
  bool draining_{false};
  bool left_{false};
  bool restore_due_{false};
  Time next_orphan_sweep_;
  std::uint64_t next_hid_{0};
  std::uint64_t next_req_{0};
  std::map<std::uint64_t, Outbound> outbound_;      // by hid
  std::map<std::uint64_t, Installing> installing_;  // by hid
  std::map<std::uint64_t, std::uint64_t> installed_;  // hid -> gen, recent (idempotency)
  std::deque<std::uint64_t> installed_order_;
  std::map<std::uint64_t, StoreReq> store_reqs_;    // by request id
  std::map<std::uint32_t, Migration> migrations_in_;  // by cell
  std::vector<RemoteGhosts> remote_ghosts_;         // by node index - 1
  Time next_checkpoint_;
  std::vector<std::uint8_t> sealed_;
  std::vector<std::vector<cluster::GhostEntry>> ghost_out_;
  std::vector<std::uint8_t> ghost_sent_last_;
  std::vector<cluster::GhostEntry> in_flight_ghosts_;
  std::vector<cluster::TunnelView> tunnel_in_;  // decode buffers, reused (views: one message's items)
  cluster::Ghosts ghosts_in_;
  struct Departed {
    std::uint64_t id;
    wire::EntityKind kind;
    Vec2 pos;
    Time until;
  };
  // Handed off and acked, or moved away with a migrated cell: still ghosted here, where they left,
  // for departed_for(), until the new owner's ghosts of them have surely reached every node that
  // watches them (ADR 0002 §7). A fresh ghost from the new owner ranks above the copy.
  std::vector<Departed> departed_;
};

// Inline: it runs for every entity every tick, in the ghost exchange.
inline bool WorldNode::cells_around_inside(std::size_t ci, std::int64_t col, std::int64_t row, Vec2 p,
                                           std::int64_t margin, CellSpan& span) const {
  const Rect& own = cells_[ci].rect;
  if (margin >= by_cell_width_.divisor() || margin >= by_cell_height_.divisor() || !own.contains(p))
    return false;
  span = {p.x - margin < own.min.x ? std::max<std::int64_t>(col - 1, 0) : col,
          p.x + margin >= own.max.x ? std::min<std::int64_t>(col + 1, config_.cells_x - 1) : col,
          p.y - margin < own.min.y ? std::max<std::int64_t>(row - 1, 0) : row,
          p.y + margin >= own.max.y ? std::min<std::int64_t>(row + 1, config_.cells_y - 1) : row};
  return true;
}

}  // namespace shardsim
