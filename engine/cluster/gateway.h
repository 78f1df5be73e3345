// Gateway: clients connect here and never reconnect on handover. The gateway tunnels each client's
// end-to-end stream (a ReliableChannel with the player's owner node) to the current owner and relays
// the owner's frames back.
//
// Routes (player -> node, authority generation) are learned from route updates and from the
// generation every node -> gateway tunnel frame carries: a higher generation wins, so a gateway that
// was isolated re-learns every route from the first frames after it heals. A first frame (a Join)
// is routed by the spawn cell's owner in the directory's table, which the gateway polls.
//
// Hold: when the owner gives a player up (handover commit, migration) it asks the gateway to hold the
// player's upstream frames; they wait in a bounded, counted buffer until the route changes or the
// hold times out, instead of going to a node that would drop them. Frames for a node that misses its
// health checks wait the same way (the client's retransmissions are the backstop when buffers are full).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/cluster/observer.h"
#include "engine/cluster/protocol.h"
#include "engine/runtime/env.h"

namespace shardsim::cluster {

struct GatewayConfig {
  std::uint32_t max_players{0};
  std::int64_t cell_width_mm{1};
  std::int64_t cell_height_mm{1};
  int cells_x{1};
  int cells_y{1};
  std::vector<HostId> nodes;
  HostId directory;
  Duration poll{Duration::millis(250)};       // table poll and node ping interval
  Duration node_timeout{Duration::millis(1000)};  // no pong for this long: node unhealthy
  Duration hold_timeout{Duration::millis(1000)};
  std::uint32_t buffer_per_player{64};
  std::uint32_t buffer_total{16384};
  std::uint64_t auth_key{0};
  // Uplink coalescing: client frames for a node leave as one tunnel_batch at most this long after
  // the first of them (or sooner, at kUpBatchBytes), as a real gateway packs datagrams. Zero sends
  // each frame alone.
  Duration uplink_flush{Duration::millis(1)};
};

class Gateway final : public Process {
 public:
  struct Stats {
    std::uint64_t up_frames{0};
    std::uint64_t down_frames{0};
    std::uint64_t buffered{0};
    std::uint64_t buffered_max{0};   // most frames waiting at once
    std::uint64_t buffer_dropped{0};
    std::uint64_t unroutable{0};     // no route and not a join we could route
    std::uint64_t route_changes{0};
    std::uint64_t rejected{0};       // unauthenticated / malformed
  };

  Gateway(Env env, GatewayConfig config, ClusterObserver* observer);
  void on_start() override;
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override;
  void on_timer(std::uint64_t tag) override;
  const Stats& stats() const { return stats_; }
  // The node index the player is routed to (0 = none), for the liveness checker.
  std::uint32_t route_of(std::uint64_t player) const {
    return player >= 1 && player <= routes_.size() ? routes_[player - 1].node : 0;
  }

 private:
  struct Route {
    HostId client;
    std::uint32_t node{0};
    std::uint64_t gen{0};
    std::uint64_t chan_epoch{0};
    Time hold_until;
    bool held{false};
    std::vector<std::vector<std::uint8_t>> waiting;
  };
  void on_client(HostId from, std::span<const std::uint8_t> bytes);
  void on_node(HostId from, std::uint32_t node, std::span<const std::uint8_t> bytes);
  void learn(std::uint64_t player, std::uint32_t node, std::uint64_t gen);
  void relay_down(std::uint32_t node, const TunnelView& t);
  void forward(TunnelView& t);
  void flush(std::uint64_t player);
  bool healthy(std::uint32_t node) const;
  std::uint32_t join_owner(std::span<const std::uint8_t> frame) const;
  template <class M>
  void send(HostId to, Msg type, M& m);
  // Uplink coalescing (GatewayConfig::uplink_flush): Tunnel items bound for each node, in arrival
  // order, sent as one authenticated tunnel_batch when the flush timer fires or the batch is full.
  static constexpr std::size_t kUpBatchBytes = 1200;  // one datagram's worth
  void queue_up(std::uint32_t node, TunnelView& t);
  void flush_up(std::uint32_t node);
  void flush_up_all();

  Env env_;
  GatewayConfig config_;
  ClusterObserver* observer_;
  Auth auth_;
  std::vector<Route> routes_;
  std::vector<CellEntry> table_;
  std::vector<Time> last_pong_;
  std::uint64_t waiting_{0};
  std::uint64_t ping_seq_{0};
  Stats stats_;
  std::vector<std::uint8_t> out_;
  std::vector<std::uint8_t> down_;  // a client-down frame; only grows (a send takes a prefix)
  std::vector<TunnelView> items_;   // a tunnel_batch's items, views into the message being handled
  std::vector<TunnelBatch> up_;  // per node (index node - 1): pending batches
  bool up_armed_{false};                       // the flush timer is set
};

}  // namespace shardsim::cluster
