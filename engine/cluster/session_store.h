// SessionStore: the durable home of player records — a stand-in for a replicated database, reached
// only through the network. One process, one message at a time: linearizable.
//
// Every write is fenced by the player's authority generation (`gen`):
//  - cas: succeeds iff stored gen == expected (0 = absent), then stores gen = expected + 1. Taking a
//    player (handover install, a timed-out source taking it back, a migration) goes through cas, so
//    of two contenders exactly one wins.
//  - write (checkpoint, write-through of actions): succeeds iff stored gen == the writer's gen, so a
//    node that lost the player can no longer write it — and learns so from the reply.
//  - restore (failover): moves every record of a cell whose owner's lease is gone to the restorer.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "engine/cluster/protocol.h"
#include "engine/runtime/env.h"

namespace shardsim::cluster {

struct StoreConfig {
  std::uint32_t max_players{0};
  std::vector<HostId> nodes;  // the only hosts allowed to talk to the store
  std::uint64_t auth_key{0};
};

// Durable: survives a store crash.
struct StoreState {
  std::vector<PlayerRecord> records;  // by player id - 1; gen 0 = absent
  // The last restore answered per requesting host: a retry (same req, its reply was lost) gets the
  // same answer again instead of an empty one.
  std::map<std::uint32_t, StoreRestoreReply> last_restore;
  std::uint64_t writes{0};            // records written (cas + write + restore)
  std::uint64_t fenced{0};            // writes refused for a stale gen
  std::uint64_t rejected{0};          // unauthenticated or malformed messages
};

class SessionStore final : public Process {
 public:
  SessionStore(Env env, StoreConfig config, StoreState& state);
  void on_start() override {}
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override;
  void on_timer(std::uint64_t) override {}
  const StoreState& state() const { return state_; }

 private:
  PlayerRecord* find(std::uint64_t player);
  template <class M>
  void send(HostId to, Msg type, M& m);

  Env env_;
  StoreConfig config_;
  StoreState& state_;
  Auth auth_;
  std::vector<std::uint8_t> out_;
};

}  // namespace shardsim::cluster
