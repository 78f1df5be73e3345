// ClusterChecker: Phase B safety and liveness, checked by an observer that sees every node at once.
//
//   split_brain.violations  a cell simulated by two nodes at once: node A ticks it, then node B,
//                           then A again without having released it in between (A never stopped)
//   epoch.violations        a node took a cell at an epoch not above every epoch seen for it
//   players.duplicated      a player real on two nodes (active cells of running nodes) at one sweep
//   players.lost            a joined player held by no running node and in nobody's transit for
//                           longer than the in-transit bound, counted from when it went missing or
//                           the last fault ended, whichever is later (also at the end of the run)
//   ledger.acked_lost       a player's authoritative ledger behind what its client had acknowledged
//   ledger.corrupt          a ledger whose value is not its number of actions (each adds 1): an
//                           action applied twice or skipped
//   migration.lost          a player whose state (position, ledger, stream, witness) differed, or
//                           who was missing, between freezing at a migration's source and install
//                           at its target (a planned drain must lose nothing at all)
//   liveness.violations     at the liveness check (last fault end + bound), anything still wrong
//                           two seconds later too: an unserved cell, a player held by no node and
//                           in nobody's transit (or never held at all: its join never got through),
//                           a player routed elsewhere than its holder, a
//                           handover open for more than two seconds (players keep moving, so some
//                           handovers are always in flight: only a stuck one counts)
// It also measures cross-node handovers (trigger -> target authoritative and gateway route updated)
// and recovery after crashes (crash -> every cell served again).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "engine/client/game_client.h"
#include "engine/cluster/gateway.h"
#include "engine/cluster/observer.h"
#include "engine/world/world_node.h"
#include "sim/checkers/checkers.h"

namespace shardsim::sim {

class ClusterChecker final : public cluster::ClusterObserver {
 public:
  struct Config {
    std::uint32_t nodes{0};
    std::uint32_t cells{0};
    std::uint32_t players{0};
    Duration transit_bound{Duration::seconds(4)};
  };
  struct Handovers {
    std::uint64_t ok{0};
    std::uint64_t failed{0};
    std::vector<Duration> latencies;  // of successful ones, trigger -> route updated
  };

  ClusterChecker(ViolationLog& log, const Time& now, Config config);

  void on_cell_tick(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override;
  void on_cell_release(std::uint32_t node, std::uint32_t cell) override;
  void on_cell_acquire(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override;
  void on_handover_start(std::uint64_t hid, std::uint64_t player, std::uint32_t from,
                         std::uint32_t to) override;
  void on_handover_commit(std::uint64_t hid, std::uint64_t player) override;
  void on_handover_end(std::uint64_t hid, std::uint64_t player, bool ok) override;
  void on_route(std::uint64_t player, std::uint32_t node, std::uint64_t gen) override;
  void on_migration_out(std::uint32_t node, std::uint32_t to, std::uint32_t cell,
                        std::span<const cluster::PlayerTransfer> players) override;
  void on_migration_in(std::uint32_t cell, std::span<const cluster::PlayerTransfer> players) override;

  // A node crashed: it simulates nothing from now on (its claims end), and recovery timing starts.
  void on_node_down(std::uint32_t node);
  // nodes[i]: node i+1 if it is running (up and not paused), else null.
  void sweep(std::span<WorldNode* const> nodes, bool faults_active);
  // A client was acknowledged its durable actions up to `seq`. Told as it happens rather than read
  // off every client at every sweep: a sweep that looked at each client touched a thousand cold
  // client objects per tick (cross_node: 6 % of all cache misses).
  void on_actions_acked(std::uint64_t player, std::uint64_t seq) {
    if (player <= config_.players) acked_[player] = std::max(acked_[player], seq);
  }
  // Call twice, `confirm` = false then true a couple of seconds later: only what is wrong both
  // times counts.
  void check_liveness(std::span<WorldNode* const> nodes, std::span<cluster::Gateway* const> gateways,
                      const std::vector<std::uint32_t>& gateway_of_player, bool confirm);
  // End of run: handovers still open count as failed; a player held by nobody is lost.
  void finish(std::span<WorldNode* const> nodes);

  std::uint64_t split_brain() const { return split_brain_; }
  std::uint64_t epoch_violations() const { return epoch_violations_; }
  std::uint64_t lost() const { return lost_; }
  std::uint64_t duplicated() const { return duplicated_; }
  std::uint64_t acked_lost() const { return acked_lost_; }
  std::uint64_t ledger_corrupt() const { return ledger_corrupt_; }
  std::uint64_t migration_lost() const { return migration_lost_; }
  std::uint64_t liveness() const { return liveness_; }
  bool liveness_checked() const { return liveness_checked_; }
  // A fault came after the liveness check: it has to be done again (and may fall past the end).
  void liveness_replanned() { liveness_checked_ = false; }
  const Handovers& handovers() const { return handovers_; }
  Duration recovery_max() const { return recovery_max_; }
  std::uint64_t unavailable_max_ms() const { return unavailable_max_.us() / 1000; }

 private:
  struct Open {
    std::uint64_t player{0};
    std::uint32_t to{0};
    Time started;
    bool installed{false};
  };
  ViolationLog& log_;
  const Time& now_;
  Config config_;
  std::vector<std::uint32_t> last_ticker_;       // per cell
  std::vector<Time> last_tick_at_;               // per cell: when last_ticker_ ticked it (max: never)
  std::vector<std::vector<std::uint8_t>> claim_;  // per cell, per node
  std::vector<std::uint8_t> flagged_cell_;
  std::vector<std::uint64_t> max_epoch_;
  std::map<std::uint64_t, Open> open_;            // by hid
  std::map<std::uint64_t, std::uint64_t> open_of_player_;
  std::map<std::uint32_t, std::vector<cluster::PlayerTransfer>> migrating_;
  std::vector<std::uint32_t> count_;
  std::vector<std::uint64_t> ledger_;
  std::vector<std::uint8_t> transit_;
  std::vector<std::uint8_t> joined_;
  std::vector<std::uint8_t> dup_flag_;
  std::vector<std::uint64_t> acked_;  // the highest seq each client was acknowledged
  std::vector<std::uint8_t> acked_flag_;
  std::vector<std::uint8_t> corrupt_flag_;
  std::vector<Time> missing_since_;
  std::vector<Time> lost_clock_;
  std::vector<std::uint8_t> lost_flag_;
  std::vector<std::uint64_t> scratch_;
  std::vector<Time> crashes_;
  Handovers handovers_;
  Duration recovery_max_{Duration::zero()};
  Duration unavailable_max_{Duration::zero()};
  std::uint64_t split_brain_{0};
  std::uint64_t epoch_violations_{0};
  std::uint64_t lost_{0};
  std::uint64_t duplicated_{0};
  std::uint64_t acked_lost_{0};
  std::uint64_t ledger_corrupt_{0};
  std::uint64_t migration_lost_{0};
  std::uint64_t liveness_{0};
  bool liveness_checked_{false};
  std::vector<std::pair<std::uint64_t, std::uint64_t>> suspects_;  // (what, subject) at first look
};

}  // namespace shardsim::sim
