// NodeLoad: how the load of a cluster run lay on its sim nodes (issue 3 §7, "per-node load"). For
// each node: the entities (players + NPCs) and the players it simulates, at the end of the run and
// at their peak, and the cells it simulates at the end; for the cluster: how unevenly the entities
// lay on the nodes over the run. Reported as node.<name>.{load,players}.{end,peak},
// node.<name>.cells.end and node.load.imbalance.mean (sim/runner/metrics.h).
//
// What counts: at an instant, a node's load is the reals of its active cells (owned, not frozen
// for a migration): what it simulates, the figure node.load.max has always used. A node that is
// down or paused holds nothing at that instant; a fenced or drained node owns no cell. Entities in
// flight (a handover committed, a cell transfer sent) are on no node.
//
// When: every 250 ms of virtual time the cluster runner's sweep (every tick, half a tick off the
// nodes' tick grid, where the checkers run) reads every node at one instant: sample() takes the
// first sweep at or after each multiple of kEvery, so between ticks. finish() reads them once more
// after the run, for the end figures. A peak is the most seen at any of those instants: one that
// comes and goes between two samples is not seen. (Every tick would cost about 0.2 % of a cluster
// run's instructions, counting the players of every cell; every 250 ms costs a fifth of that.)
// Reading only: nothing here feeds back into the run or its trace.
//
// Imbalance: at each sample where the cluster holds at least one entity, max node load / mean node
// load, the mean taken over all the scenario's nodes (a node down, paused or drained counts 0: the
// load lies on fewer nodes). node.load.imbalance.mean is its mean over the run, each sample
// weighted by the virtual time since the previous one: 1 when the load was always even, N (the
// node count) when it was always on one node. finish() is not a sample of it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/time.h"
#include "engine/world/world_node.h"

namespace shardsim::sim {

class NodeLoad {
 public:
  static constexpr Duration kEvery = Duration::millis(250);

  struct Figures {
    std::uint64_t load_end{0};
    std::uint64_t load_peak{0};
    std::uint64_t players_end{0};
    std::uint64_t players_peak{0};
    std::uint64_t cells_end{0};
  };

  explicit NodeLoad(std::size_t nodes, Duration every = kEvery);

  // `running[i]`: node i if it is up and not paused, else nullptr; one entry per node. sample()
  // reads them only if a sample is due at `now`.
  void sample(Time now, std::span<WorldNode* const> running);
  void finish(std::span<WorldNode* const> running);

  const std::vector<Figures>& nodes() const { return nodes_; }
  // Rounded to 0.001; 0 if no sample held an entity.
  double imbalance_mean() const;

 private:
  struct Now {
    std::uint64_t load{0};
    std::uint64_t players{0};
    std::uint64_t cells{0};
  };
  // Reads every node into now_ and raises the peaks; returns the total load.
  std::uint64_t read(std::span<WorldNode* const> running);

  Duration every_;
  Time next_;  // the next sample: the first call at or after it
  Time last_;  // the last sample's time
  std::vector<Figures> nodes_;
  std::vector<Now> now_;
  // Sums over the samples that held an entity: max / mean times the time since the last sample,
  // and that time (in us). Doubles: reported, never fed back; the same run adds the same numbers.
  double imbalance_weighted_{0};
  double imbalance_time_{0};
};

// The node.<name>.<field> metrics, node by node in `names`' order (the scenario's), each node's
// fields in kNodeFields' order.
std::vector<std::pair<std::string, double>> node_load_metrics(std::span<const std::string> names,
                                                              const NodeLoad& load);

}  // namespace shardsim::sim
