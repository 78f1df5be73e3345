// GameClient: the client side of a player's connection — joins, sends movement inputs and applies the
// AOI stream to its local view of the world.
//
// What the player *wants* to do comes from a Driver (a human, or in the simulator a movement model);
// what the player *sees* is exactly what the server's stream said, applied in order. Inputs are sent
// over the reliable channel; a client-side timer retransmits them while unacknowledged.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/net/reliable_channel.h"
#include "engine/runtime/env.h"
#include "engine/wire/messages.h"

namespace shardsim {

class Driver {
 public:
  virtual ~Driver() = default;
  virtual Vec2 spawn() = 0;
  // Called after each applied batch that moved the player. Returns an input to send, if any.
  virtual std::optional<wire::MoveInput> on_position(Vec2 self, Time now) = 0;
};

// Sees every batch the client applies (the simulator's AOI continuity checker).
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  virtual void on_batch(std::uint64_t player_id, const wire::AoiBatch& batch, Time now) = 0;
  // Phase B: the server rebuilt the stream from durable state (failover); the view starts empty.
  virtual void on_reset(std::uint64_t player_id, Time now) {
    (void)player_id;
    (void)now;
  }
  // The server acknowledged the player's durable actions up to `seq` (called when that rises).
  virtual void on_actions_acked(std::uint64_t player_id, std::uint64_t seq) {
    (void)player_id;
    (void)seq;
  }
};

// Buffers a client only needs while it handles one event: the decoded batch and the bytes it
// encodes. Clients that never run at the same time (every client of one simulation) can share one,
// so each delivery finds them warm in cache instead of touching three or four cold heap blocks of
// its own; a client without a shared one uses its own.
struct ClientScratch {
  wire::AoiBatch batch;
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint8_t> out;    // gateway envelope
  std::vector<std::uint8_t> frame;  // the channel's frames (ReliableChannel::Config::frame_scratch)
};

struct ClientOptions {
  bool via_gateway{false};                  // Phase B: frames tunnel through a gateway
  Duration action_every{Duration::zero()};  // durable actions at this interval; zero = none
  Duration action_resend{Duration::seconds(1)};
  ClientScratch* scratch{nullptr};          // shared scratch (not owned); null: the client's own
};

class alignas(64) GameClient final : public Process {  // 64: a cache line (see the members)
 public:
  struct Stats {
    std::uint64_t batches{0};
    std::uint64_t inputs{0};
    std::uint64_t decode_errors{0};
    std::uint64_t anomalies{0};  // ops that contradict the local view (the checker counts them too)
  };
  struct Seen {
    EntityId id;
    Vec2 pos;
  };

  GameClient(Env env, HostId server, std::uint64_t player_id, Driver& driver,
             StreamObserver* observer, ReliableChannel::Config channel, ClientOptions options = {});

  void on_start() override;
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override;
  void on_timer(std::uint64_t tag) override;

  const std::vector<Seen>& view() const { return view_; }  // sorted by id
  std::uint64_t last_tick() const { return last_tick_; }
  const Stats& stats() const { return stats_; }
  // Durable actions: the highest the server acknowledged, and how many were sent.
  std::uint64_t actions_acked() const { return actions_acked_; }
  std::uint64_t actions_sent() const { return action_seq_; }
  std::uint64_t resets() const { return resets_; }

 private:
  // Wraps channel frames for the gateway: 0x50 player chan_epoch frame.
  class GatewayTransport final : public Transport {
   public:
    GatewayTransport(GameClient& c) : c_{c} {}
    HostId self() const override { return c_.env_.transport.self(); }
    void send(HostId to, std::span<const std::uint8_t> bytes) override;

   private:
    GameClient& c_;
  };
  void apply(std::span<const std::uint8_t> payload);
  void apply_batch();
  void send(std::span<const std::uint8_t> payload);
  void send_action(std::uint64_t seq);
  void send_join();
  void arm_retransmit();
  Transport& transport();

  // What every delivery reads comes first, the channel's hot state right after it, and the object
  // starts a cache line (alignas above): a client is cold when its next batch arrives (a thousand
  // others ran since), so a delivery costs a cache miss per line it touches. In this order a
  // delivery, and the ack it may send, touch the first six lines: line 0 the identity and stream
  // epoch, line 1 what apply() reads, lines 2-4 the channel's hot fields, line 5 the gateway
  // wrapper and the batch counter. (With own_scratch_ and options_ between the channel and
  // chan_epoch_, as before, they were seven; at 1000 players every cross_node client delivery is
  // a set of L2 misses, ~30 per AOI message in all.)
  Env env_;
  HostId server_;
  bool joined_{false};
  bool via_gateway_;               // options_.via_gateway, read on every delivery
  std::uint64_t chan_epoch_{0};
  std::uint64_t player_id_;
  Driver& driver_;
  StreamObserver* observer_;
  ClientScratch& scratch_;
  std::vector<Seen> view_;
  std::uint64_t last_tick_{0};
  TimerId retransmit_timer_;
  ReliableChannel channel_;
  GatewayTransport gateway_;
  Stats stats_;
  // Read only by timers and set-up.
  ClientOptions options_;
  ClientScratch own_scratch_;  // used when options_.scratch is null
  Vec2 spawn_;
  std::uint64_t action_seq_{0};
  std::uint64_t actions_acked_{0};
  std::uint64_t resets_{0};
  std::vector<std::pair<std::uint64_t, Time>> pending_actions_;  // seq, last sent
};

}  // namespace shardsim
