// Checkers: the simulator sees every host's state at once, so it checks what no single node can.
//
//   AuthorityChecker   every joined player is real in exactly one cell          players.lost / .duplicated
//   OracleChecker      each server-side AOI view agrees with a brute-force oracle aoi.oracle_mismatches
//   ContinuityChecker  each client's stream: enter first, updates while visible,  aoi.continuity_violations
//                      leave last, no duplicate enter, ticks in order, no leave
//                      then enter of one entity faster than anything can move
//   DensityChecker     right after each density pass, every cell's NPC count is   bots.density_violations
//                      within [min, max]
//
// All run every tick (or every batch). Each keeps a count and the first few violations in detail (virtual
// time, entity, what was wrong) for the failure report.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/client/game_client.h"
#include "engine/core/divider.h"
#include "engine/world/world_node.h"

namespace shardsim::sim {

struct Violation {
  std::string checker;
  Time at;
  std::uint64_t entity{0};
  std::string detail;
};

class ViolationLog {
 public:
  void add(const char* checker, Time at, std::uint64_t entity, std::string detail);
  const std::vector<Violation>& first() const { return first_; }
  std::uint64_t total() const { return total_; }

 private:
  static constexpr std::size_t kKeep = 20;
  std::vector<Violation> first_;
  std::uint64_t total_{0};
};

class AuthorityChecker {
 public:
  explicit AuthorityChecker(ViolationLog& log) : log_{log} {}
  void check(const WorldNode& node, Time now);
  // The same check on plain data: cells as a node holds them, and joined[id] != 0 for every player id
  // that has joined (size = max player id + 1). check(node) feeds this; tests feed it broken states.
  void check_cells(std::span<const Cell> cells, std::span<const std::uint8_t> joined, Time now);
  std::uint64_t lost() const { return lost_; }
  std::uint64_t duplicated() const { return duplicated_; }

 private:
  ViolationLog& log_;
  std::vector<std::uint32_t> count_;
  std::vector<std::uint8_t> joined_;
  std::uint64_t lost_{0};
  std::uint64_t duplicated_{0};
};

// The oracle does not use the engine's index, cells or ghosts: it places every real entity in a flat
// grid over the whole world (buckets of radius + hysteresis), and for each player scans the buckets its
// disc of radius + hysteresis touches, comparing exact squared distances, and merges the result with
// the player's view. That is the O(n^2) brute force restricted to pairs
// that can possibly be in range (tests/sim/checkers_test.cpp verifies it
// against the literal all-pairs loop). Allowed slack: the hysteresis band (an entity between radius and
// radius + hysteresis may or may not be visible) and one tick (a mismatch must hold on two consecutive
// ticks to count).
//
// A first pass over the buckets, with the view marked by id, decides whether the view can hold a
// mismatch at all; only a view that fails it is merged (on a correct node, none does).
// Snapshots and marks are indexed by entity id, dense in Phase A (players 1..max_players, then NPCs
// in spawn order); Phase B ids carry the node index in their high bits, but the oracle does not
// run in Phase B.
class OracleChecker {
 public:
  explicit OracleChecker(ViolationLog& log) : log_{log} {}
  void check(const WorldNode& node, Time now);
  std::uint64_t mismatches() const { return mismatches_; }
  std::uint64_t views_checked() const { return views_; }

 private:
  struct Item {
    std::int64_t x;
    std::int64_t y;
    std::uint64_t id;
  };
  // A snapshot is by entity id; an id is real in it if its slot was written by the snapshot's own
  // check, so a new snapshot need not clear the old one.
  struct Slot {
    Vec2 pos;
    std::uint64_t check{0};
  };
  struct Snapshot {
    std::uint64_t check{0};
    std::vector<Slot> by_id;
    bool has(std::uint64_t id) const { return id < by_id.size() && by_id[id].check == check; }
  };
  struct Grid {
    // Every entity's coordinates and every player's are bucketed, every tick: a multiply each.
    GridAxis cols;
    GridAxis rows;
    std::int64_t gx{1};
    std::int64_t gy{1};
    std::int64_t col(std::int64_t x) const { return cols(x); }
    std::int64_t row(std::int64_t y) const { return rows(y); }
  };
  struct Near {
    std::uint64_t id;
    std::int64_t d2;
  };
  void take_snapshot(const WorldNode& node);
  void build_grid(const NodeConfig& config, std::int64_t r_out);
  // visit(id, d2) for every item in p's bucket and its neighbours (a superset of those within the
  // outer radius), and for those within r_out2 of p.
  template <class Visit>
  void for_each_candidate(Vec2 p, Visit&& visit) const;
  template <class Visit>
  void for_each_near(Vec2 p, std::int64_t r_out2, Visit&& visit) const;
  bool view_agrees(const Entity& p, std::int64_t r2, std::int64_t r_out2);
  void report(const Entity& p, std::int64_t r2, std::int64_t r_out2, Time now);
  bool in_range(const Snapshot& s, std::uint64_t a, std::uint64_t b, std::int64_t r2) const;
  bool beyond(const Snapshot& s, std::uint64_t a, std::uint64_t b, std::int64_t r2) const;

  ViolationLog& log_;
  std::uint64_t checks_{0};
  Snapshot now_;
  Snapshot prev_;
  std::vector<const Entity*> players_;  // in cell order, as the checks are reported
  Grid grid_;
  // Every real entity of now_, each once, in the node's cell order: build_grid() reads it front to
  // back instead of looking each id up in now_.by_id, twice, at random.
  std::vector<Item> reals_;
  bool reals_twice_{false};  // an entity was real in two cells: reals_ has its first position
  std::vector<Item> items_;  // every real entity, by grid bucket
  std::vector<std::uint32_t> bucket_of_;  // by position in reals_
  std::vector<std::uint32_t> bucket_begin_;
  std::vector<std::uint64_t> seen_by_;  // by entity id: the serial of the last view it appeared in
  std::uint64_t views_{0};
  std::vector<Near> near_;  // per player, only when its view may disagree
  std::uint64_t mismatches_{0};
};

class ContinuityChecker final : public StreamObserver {
 public:
  // A stream's tick numbers must rise strictly, across handovers between nodes whose clocks
  // disagree too (the new owner numbers its batches above the last one the stream carried).
  //
  // No spurious leave/enter: an entity leaves a view only beyond radius + hysteresis and enters only
  // inside the radius, so between a leave and an enter of the same entity the two have moved apart
  // and back by the hysteresis: at least hysteresis / (2 x max speed) of simulated time. An enter
  // within `reentry_window` of the leave, by both the batches' tick numbers and their arrival
  // times, is a blink the server should not have sent (a handover, a ghost gone missing for a tick).
  // The window is a quarter of that bound (reentry_window_for), so ghost lag, retransmission delays
  // and stream tick numbers raised at a handover cannot make a real leave and return look that fast.
  // A zero window (no hysteresis) turns the check off.
  //
  // Faults excuse a re-entry: a node paused or cut off for about the ghost TTL makes its entities
  // vanish from other nodes' views and come back, which is degradation, not a protocol error. The
  // runner brackets each fault (not a planned drain) with disturbance_begin/_end, giving the time
  // by which the cluster has settled after it; a leave or an enter inside a disturbance is not
  // counted. Planned drains and migrations, and handovers with no fault about, are.
  ContinuityChecker(ViolationLog& log, std::uint32_t players, Duration tick,
                    Duration reentry_window = Duration::zero())
      : log_{log},
        visible_(players + 1),
        last_tick_(players + 1, 0),
        recent_leaves_(players + 1),
        tick_{tick},
        reentry_window_{reentry_window},
        reentry_ticks_{tick.us() > 0 ? static_cast<std::uint64_t>(reentry_window.us() / tick.us()) : 0} {}
  // hysteresis / (2 x max speed) / 4, in whole ticks; zero if that is less than one tick.
  static Duration reentry_window_for(std::int64_t hysteresis_mm, std::int64_t max_speed_mm_s,
                                     Duration tick);
  void on_batch(std::uint64_t player_id, const wire::AoiBatch& batch, Time now) override;
  // A stream rebuilt from durable state after a failover starts from an empty view.
  void on_reset(std::uint64_t player_id, Time now) override;
  std::uint64_t violations() const { return violations_; }
  std::uint64_t reentries() const { return reentries_; }
  void disturbance_begin() { ++disturbances_; }
  void disturbance_end(Time settled) {
    if (disturbances_ > 0) --disturbances_;
    settled_ = std::max(settled_, settled);
  }
  void disturbance_at(Time settled) { settled_ = std::max(settled_, settled); }
  bool quiet(Time now) const { return disturbances_ == 0 && now >= settled_; }
  Duration max_lag() const { return max_lag_; }

 private:
  struct Leave {
    std::uint64_t id;
    std::uint64_t tick;
    Time at;
    bool excused;  // left during a disturbance
  };
  void check_reentry(std::uint64_t player_id, const wire::AoiBatch& batch, Time now);

  ViolationLog& log_;
  std::vector<std::vector<std::uint64_t>> visible_;  // per player, sorted
  std::vector<std::uint64_t> last_tick_;
  std::vector<std::vector<Leave>> recent_leaves_;  // per player, within the window; usually empty
  Duration tick_;
  Duration reentry_window_;
  std::uint64_t reentry_ticks_;
  Duration max_lag_{Duration::zero()};
  std::uint64_t violations_{0};
  std::uint64_t reentries_{0};
  int disturbances_{0};
  Time settled_{Time::zero()};
};

class DensityChecker {
 public:
  explicit DensityChecker(ViolationLog& log) : log_{log} {}
  void check(const WorldNode& node, Time now);
  std::uint64_t violations() const { return violations_; }

 private:
  ViolationLog& log_;
  std::uint64_t violations_{0};
};

}  // namespace shardsim::sim
