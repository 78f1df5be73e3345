// Directory: the cluster's lease store and cell assigner — a stand-in for etcd / ZooKeeper, reached
// only through the network, so it can be partitioned away like any host. It is linearizable because
// it is one process handling one message at a time.
//
// Leases: a node asks for a lease with a heartbeat (lease 0) and renews it with every heartbeat. The
// directory expires a lease `ttl` after the last renewal it received, and reassigns the node's cells
// only `margin` later (margin = the configured clock drift allowance), so a node that fences itself at
// `send time + ttl - drift allowance` by its own clock has stopped before anyone else starts — as long
// as clocks drift less than the allowance (the stated clock assumption; a clock_jump fault breaks it).
//
// Cells: cell -> (owner, epoch). The epoch rises on every ownership change. Unowned cells (at start,
// after a failover) are assigned by the policy: rendezvous (highest XXH3(cell, node) among live,
// non-draining nodes) or least-loaded (fewest cells, then lowest reported load, then lowest index). A
// draining node's cells get a `migrate_to` target. With rendezvous, a cell not on its highest-weight
// live node (after a failover, once that node is back) migrates home, a few at a time. With
// least-loaded, the directory rebalances by load:
// when the busiest node carries more than `rebalance_ratio` times the mean load, one of its cells
// (the busiest that still fits) migrates to the least-loaded node, one migration at a time; the target completes the migration with
// migration_done, which moves the cell under a new epoch. The table goes to every node in each
// heartbeat ack and to gateways on request.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/cluster/protocol.h"
#include "engine/runtime/env.h"

namespace shardsim::cluster {

enum class Policy : std::uint8_t { rendezvous, least_loaded };

struct DirectoryConfig {
  std::uint32_t cells{0};
  std::vector<HostId> nodes;     // node index i+1 -> host
  std::vector<HostId> gateways;  // allowed to read the table
  Duration ttl{Duration::seconds(2)};
  Duration margin{Duration::millis(50)};
  Duration settle{Duration::millis(500)};  // first assignment waits this long for nodes to register
  Duration tick{Duration::millis(50)};
  Policy policy{Policy::rendezvous};
  std::uint64_t auth_key{0};
  // Least-loaded only: rebalance when max load > ratio x mean (percent), at most every `interval`.
  std::uint32_t rebalance_ratio_pct{150};
  Duration rebalance_interval{Duration::seconds(5)};
};

// Durable: survives a directory crash (the real thing would persist it with Raft).
struct DirectoryState {
  struct Lease {
    std::uint64_t id{0};  // 0 = none
    std::uint64_t nonce{0};  // of the request that created it
    Time expires;
    std::uint64_t load{0};
    bool draining{false};
    std::vector<std::uint64_t> cell_loads;  // pairs, as last reported
  };
  std::vector<CellEntry> cells;
  std::vector<Lease> leases;  // by node index - 1
  std::uint64_t version{1};
  std::uint64_t next_lease{1};
  bool assigned_once{false};
  Time last_rebalance;
  std::uint64_t reassignments{0};  // cells moved because their owner's lease lapsed
  std::uint64_t migrations{0};
  std::uint64_t rejected{0};       // unauthenticated or non-member messages
};

// Pure assignment policy (tests and ADR 0003's numbers use it directly).
std::uint32_t pick_owner(Policy policy, std::uint32_t cell, const std::vector<std::uint8_t>& eligible,
                         const std::vector<std::uint32_t>& cells_owned,
                         const std::vector<std::uint64_t>& load);

class Directory final : public Process {
 public:
  Directory(Env env, DirectoryConfig config, DirectoryState& state);
  void on_start() override;
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override;
  void on_timer(std::uint64_t tag) override;
  const DirectoryState& state() const { return state_; }

 private:
  std::uint32_t node_index(HostId h) const;
  bool is_gateway(HostId h) const;
  void on_heartbeat(HostId from, std::uint32_t node, const Heartbeat& hb);
  void on_migration_done(HostId from, std::uint32_t node, MigrationDone& m);
  void expire_and_assign();
  void rebalance();
  void fill_table(Table& t) const;
  template <class M>
  void send(HostId to, Msg type, M& m);

  Env env_;
  DirectoryConfig config_;
  DirectoryState& state_;
  Auth auth_;
  Time started_;
  std::vector<std::uint8_t> out_;
};

}  // namespace shardsim::cluster
