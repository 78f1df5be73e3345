// Checkers: they must stay silent on a correct node and count every violation of the kind they
// guard, exactly once. The world node under check is real engine code driven by hand: a manual
// clock, timers that only record, and a transport whose frames the test routes itself between the
// node and test-side ReliableChannels (one per player), so the test decides which clients keep up.
//
// The oracle is compared with a literal all-pairs loop (BruteForceOracle below) that re-states its
// definition: for every player p and every real entity e, e must be in p's view if it was within
// the AOI radius of p at this check and the previous one; every entity in p's view must not be
// beyond radius + hysteresis (or gone) at both. A client that stops acknowledging freezes its
// player's view (the node's reliable window is full, so the witness stops advancing), which is how
// the test produces stale views — and so oracle violations — from the unmodified engine.
#include "sim/checkers/checkers.h"
#include "sim/checkers/cluster_checker.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/rng.h"
#include "engine/net/reliable_channel.h"
#include "engine/wire/messages.h"
#include "engine/world/world_node.h"
#include "tests/engine/fakes.h"

namespace shardsim::sim {
namespace {

constexpr HostId kNode{0};
constexpr std::int64_t kM = 1000;  // millimetres per metre

// The oracle's contract, as an all-pairs loop over the node's real entities.
class BruteForceOracle {
 public:
  struct Count {
    std::uint64_t must_see{0};      // in range at both checks, missing from the view
    std::uint64_t must_not_see{0};  // in the view, beyond radius + hysteresis (or gone) at both
    std::uint64_t total() const { return must_see + must_not_see; }
  };

  Count observe(const WorldNode& node) {
    std::swap(prev_, now_);
    now_.assign(now_.size(), std::nullopt);
    std::vector<const Entity*> all;
    for (const auto& cell : node.cells())
      for (const auto& e : cell.reals) {
        all.push_back(&e);
        if (e.id.value() >= now_.size()) now_.resize(e.id.value() + 1);
        now_[e.id.value()] = e.pos;
      }
    const std::int64_t r = node.config().aoi_radius_mm;
    const std::int64_t r_out = node.config().aoi_outer_mm();
    Count count;
    for (const Entity* p : all) {
      if (p->kind != wire::EntityKind::player) continue;
      const std::uint64_t pid = p->id.value();
      for (const Entity* e : all) {
        if (dist2(p->pos, e->pos) > r * r) continue;  // not within range now (= now_)
        const std::uint64_t eid = e->id.value();
        if (within(prev_, pid, eid, r) && !in_view(*p, eid)) ++count.must_see;
      }
      for (const auto& v : p->view)
        if (beyond(now_, pid, v.id.value(), r_out) && beyond(prev_, pid, v.id.value(), r_out))
          ++count.must_not_see;
    }
    return count;
  }

 private:
  using Snapshot = std::vector<std::optional<Vec2>>;  // position by entity id, if a real entity
  static std::optional<Vec2> at(const Snapshot& s, std::uint64_t id) {
    return id < s.size() ? s[id] : std::nullopt;
  }
  static bool within(const Snapshot& s, std::uint64_t a, std::uint64_t b, std::int64_t r) {
    const auto pa = at(s, a);
    const auto pb = at(s, b);
    return pa && pb && dist2(*pa, *pb) <= r * r;
  }
  static bool beyond(const Snapshot& s, std::uint64_t viewer, std::uint64_t b, std::int64_t r) {
    const auto pa = at(s, viewer);
    if (!pa) return false;  // nothing known about the viewer: no claim
    const auto pb = at(s, b);
    return !pb || dist2(*pa, *pb) > r * r;
  }
  static bool in_view(const Entity& p, std::uint64_t id) {
    for (const auto& v : p.view)
      if (v.id.value() == id) return true;
    return false;
  }

  Snapshot now_;
  Snapshot prev_;
};

// A WorldNode on fake Env, its clients as test-side reliable channels, and every checker (plus the
// brute-force oracle) run at the end of each tick, as the runner does.
class Harness final : public TickObserver {
 public:
  explicit Harness(const NodeConfig& cfg)
      : cfg_{cfg},
        continuity_{log_, cfg.max_players, cfg.tick},
        node_transport_{kNode},
        node_{Env{clock_, timers_, node_transport_, tracer_}, cfg, this} {
    node_.on_start();
  }

  void on_tick_end(const WorldNode& node, std::uint64_t) override {
    authority_.check(node, clock_.now());
    const std::uint64_t before = oracle_.mismatches();
    oracle_.check(node, clock_.now());
    density_.check(node, clock_.now());
    oracle_per_tick_.push_back(oracle_.mismatches() - before);
    const auto brute = brute_.observe(node);
    brute_per_tick_.push_back(brute.total());
    brute_total_.must_see += brute.must_see;
    brute_total_.must_not_see += brute.must_not_see;
  }

  // A player joins through its own reliable channel. A stalled client never reads what the node
  // sends and never acknowledges it.
  void join(std::uint64_t player, Vec2 spawn, bool stalled = false) {
    auto c = std::make_unique<Client>(HostId{static_cast<std::uint32_t>(1000 + clients_.size())},
                                      player, stalled, ReliableChannel::Config{});
    by_player_[player] = clients_.size();
    clients_.push_back(std::move(c));
    send(*clients_.back(), [&](std::vector<std::uint8_t>& out) {
      wire::encode(wire::Join{player, spawn}, out);
    });
  }
  void move(std::uint64_t player, Vec2 target, std::int64_t speed_mm_s) {
    send(*clients_.at(by_player_.at(player)), [&](std::vector<std::uint8_t>& out) {
      wire::encode(wire::MoveInput{target, speed_mm_s}, out);
    });
  }
  // Delivers what the clients sent since the last tick, then runs the node's next tick.
  void tick() {
    route();
    clock_.advance(cfg_.tick);
    node_.on_timer(1);
    route();
  }

  const WorldNode& node() const { return node_; }
  const ViolationLog& log() const { return log_; }
  const AuthorityChecker& authority() const { return authority_; }
  const OracleChecker& oracle() const { return oracle_; }
  const ContinuityChecker& continuity() const { return continuity_; }
  const DensityChecker& density() const { return density_; }
  const std::vector<std::uint64_t>& oracle_per_tick() const { return oracle_per_tick_; }
  const std::vector<std::uint64_t>& brute_per_tick() const { return brute_per_tick_; }
  const BruteForceOracle::Count& brute_total() const { return brute_total_; }
  std::uint64_t batches_applied() const { return batches_; }
  std::uint64_t undecodable() const { return undecodable_; }

 private:
  struct Client {
    Client(HostId h, std::uint64_t p, bool s, ReliableChannel::Config cfg)
        : host{h}, player{p}, stalled{s}, channel{cfg}, out{h} {}
    HostId host;
    std::uint64_t player;
    bool stalled;
    ReliableChannel channel;
    testing::RecordingTransport out;  // frames this client sends to the node
  };

  template <class Encode>
  void send(Client& c, Encode encode) {
    bytes_.clear();
    encode(bytes_);
    REQUIRE(c.channel.send(bytes_, clock_.now(), c.out, kNode));
  }

  // Moves frames both ways until nothing is in flight. Healthy clients decode every AOI batch, feed
  // it to the continuity checker and acknowledge at once; stalled clients lose everything.
  void route() {
    for (int round = 0; round < 16; ++round) {
      bool any = false;
      for (auto& f : node_transport_.take()) {
        any = true;
        Client& c = *clients_.at(f.to.value() - 1000);
        if (c.stalled) continue;
        c.channel.on_frame(f.bytes, c.out, kNode, [&](std::span<const std::uint8_t> payload) {
          if (!wire::decode(payload, batch_)) {
            ++undecodable_;
            return;
          }
          ++batches_;
          continuity_.on_batch(c.player, batch_, clock_.now());
        });
      }
      for (auto& c : clients_) {
        if (!c->stalled) c->channel.flush_ack(c->out, kNode);
        for (auto& f : c->out.take()) {
          any = true;
          node_.on_message(c->host, f.bytes);
        }
      }
      if (!any) return;
    }
    FAIL("frames still in flight after 16 routing rounds");
  }

  NodeConfig cfg_;
  ViolationLog log_;
  AuthorityChecker authority_{log_};
  OracleChecker oracle_{log_};
  ContinuityChecker continuity_;
  DensityChecker density_{log_};
  BruteForceOracle brute_;
  std::vector<std::uint64_t> oracle_per_tick_;
  std::vector<std::uint64_t> brute_per_tick_;
  BruteForceOracle::Count brute_total_;

  testing::ManualClock clock_;
  testing::FakeTimers timers_;
  testing::RecordingTransport node_transport_;
  testing::RecordingTracer tracer_;
  WorldNode node_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<std::uint64_t, std::size_t> by_player_;
  std::vector<std::uint8_t> bytes_;
  wire::AoiBatch batch_;
  std::uint64_t batches_{0};
  std::uint64_t undecodable_{0};
};

// 2 km x 2 km, 4 x 4 cells, 100 m AOI: about 1500 entities (players + NPCs) when populated below.
NodeConfig busy_config() {
  NodeConfig c;
  c.seed = 31;
  c.width_mm = 2000 * kM;
  c.height_mm = 2000 * kM;
  c.cells_x = 4;
  c.cells_y = 4;
  c.aoi_radius_mm = 100 * kM;
  c.hysteresis_mm = 10 * kM;
  c.max_players = 900;
  c.player_speed_max_mm_s = 100 * kM;  // 5 m per tick: views churn quickly
  c.bots_min = 45;
  c.bots_max = 47;                 // a narrow band: density passes both spawn and despawn
  c.bot_speed_min_mm_s = 20 * kM;  // fast enough to cross cell borders within the run
  c.bot_speed_max_mm_s = 60 * kM;
  c.channel.window_max = 1;  // a client that stops acknowledging freezes its view after one batch
  return c;
}

Vec2 random_point(Rng& rng, const NodeConfig& c) {
  return {rng.between(0, c.width_mm - 1), rng.between(0, c.height_mm - 1)};
}

// Runs the busy world for 45 ticks: 700 players join at once, 100 more at tick 10 and 10 at tick 15
// (both of the oracle's re-sorting paths), a third of all players move each tick, NPCs wander and
// are spawned and despawned by density control. Every `stall_every`-th player (0: none) stalls.
void run_busy(Harness& h, int stall_every) {
  const NodeConfig cfg = busy_config();
  Rng rng{4242};
  std::uint64_t next_player = 1;
  auto join_some = [&](int n) {
    for (int i = 0; i < n; ++i, ++next_player)
      h.join(next_player, random_point(rng, cfg),
             stall_every > 0 && next_player % static_cast<std::uint64_t>(stall_every) == 0);
  };
  join_some(700);
  for (int t = 1; t <= 45; ++t) {
    if (t == 10) join_some(100);
    if (t == 15) join_some(10);
    for (std::uint64_t p = 1; p < next_player; ++p) {
      if (rng.below(3) != 0) continue;
      const Vec2 here = random_point(rng, cfg);
      h.move(p, here, rng.between(1 * kM, cfg.player_speed_max_mm_s));
    }
    h.tick();
  }
}

std::size_t entity_count(const WorldNode& node) {
  std::size_t n = 0;
  for (const auto& cell : node.cells()) n += cell.reals.size();
  return n;
}

}  // namespace

TEST_CASE("checkers: a correct node with ~1500 entities passes all four checkers",
          "[sim][checkers]") {
  Harness h{busy_config()};
  run_busy(h, 0);

  // The run was not trivial: many entities, views that change, handovers, density passes.
  const auto& stats = h.node().stats();
  REQUIRE(entity_count(h.node()) >= 1500);
  REQUIRE(h.node().players_spawned() == 810);
  REQUIRE(stats.aoi_enters > 5000);
  REQUIRE(stats.aoi_leaves > 1000);
  REQUIRE(stats.handovers_local > 0);
  REQUIRE(stats.bots_spawned > 16 * 40);
  REQUIRE(stats.channel_overflows == 0);
  REQUIRE(h.batches_applied() > 10'000);
  REQUIRE(h.undecodable() == 0);

  CHECK(h.authority().lost() == 0);
  CHECK(h.authority().duplicated() == 0);
  CHECK(h.oracle().mismatches() == 0);
  CHECK(h.continuity().violations() == 0);
  CHECK(h.density().violations() == 0);
  CHECK(h.log().total() == 0);
  // The literal all-pairs loop agrees, tick by tick.
  CHECK(h.brute_per_tick() == std::vector<std::uint64_t>(45, 0));
}

TEST_CASE("checkers: the oracle agrees with an all-pairs brute force on stale views",
          "[sim][checkers][oracle]") {
  Harness h{busy_config()};
  run_busy(h, 3);  // every third player's client stops acknowledging: its view freezes

  INFO("must-see " << h.brute_total().must_see << ", must-not-see " << h.brute_total().must_not_see
                   << ", entities " << entity_count(h.node()) << ", spawned "
                   << h.node().stats().bots_spawned << ", despawned "
                   << h.node().stats().bots_despawned);
  REQUIRE(entity_count(h.node()) >= 1500);
  REQUIRE(h.node().stats().bots_despawned > 0);  // "gone" entities left in frozen views
  REQUIRE(h.node().stats().channel_overflows > 0);
  // Both kinds of violation occur, many times over...
  REQUIRE(h.brute_total().must_see > 100);
  REQUIRE(h.brute_total().must_not_see > 100);
  // ...and the oracle counts exactly what the brute force counts, at every tick.
  REQUIRE(h.oracle_per_tick() == h.brute_per_tick());
  REQUIRE(h.oracle().mismatches() == h.brute_total().total());
  // The other checkers are unaffected by stale views: the stream each client got is continuous.
  CHECK(h.authority().lost() == 0);
  CHECK(h.authority().duplicated() == 0);
  CHECK(h.continuity().violations() == 0);
  CHECK(h.density().violations() == 0);
}

TEST_CASE("checkers: the oracle allows one tick of delay and the hysteresis band, no more",
          "[sim][checkers][oracle]") {
  NodeConfig cfg;
  cfg.width_mm = 1000 * kM;
  cfg.height_mm = 1000 * kM;
  cfg.aoi_radius_mm = 100 * kM;
  cfg.hysteresis_mm = 10 * kM;
  cfg.max_players = 3;
  cfg.player_speed_max_mm_s = 20'000 * kM;  // any move completes within one tick
  cfg.channel.window_max = 1;
  Harness h{cfg};
  const std::int64_t speed = cfg.player_speed_max_mm_s;
  h.join(1, {500 * kM, 500 * kM}, /*stalled=*/true);  // A: its view freezes after tick 1
  h.join(2, {550 * kM, 500 * kM});                    // B: in A's view from tick 1
  h.join(3, {900 * kM, 900 * kM});                    // C: far from A
  h.tick();                                           // 1: A's view = {A, B}, frozen from now on
  h.move(2, {605 * kM, 500 * kM}, speed);
  h.tick();  // 2: B at 105 m, inside the hysteresis band: may stay in view
  h.move(2, {700 * kM, 500 * kM}, speed);
  h.tick();  // 3: B at 200 m, beyond 110 m for the first check: one tick allowed
  h.tick();  // 4: beyond at two checks and still in A's view: one mismatch
  h.move(2, {550 * kM, 500 * kM}, speed);
  h.move(3, {520 * kM, 500 * kM}, speed);
  h.tick();  // 5: B back within range (fine); C within range of A for the first check
  h.tick();  // 6: C within range at two checks, missing from A's frozen view: one mismatch
  h.tick();  // 7: and again
  CHECK(h.oracle_per_tick() == std::vector<std::uint64_t>{0, 0, 0, 1, 0, 1, 1});
  CHECK(h.brute_per_tick() == h.oracle_per_tick());
  REQUIRE(h.log().first().size() == 3);
  CHECK(h.log().first()[0].checker == "aoi.oracle_mismatches");
  CHECK(h.log().first()[0].entity == 1);
  CHECK(h.log().first()[0].detail == "entity 2 in view but beyond radius + hysteresis");
  CHECK(h.log().first()[1].detail == "entity 3 within radius for 2 ticks but not in view");
  CHECK(h.log().first()[1].at == Time::zero() + cfg.tick * 6);
}

TEST_CASE("checkers: the oracle's radius is inclusive, in every direction",
          "[sim][checkers][oracle]") {
  // B walks the circle of exactly 100 m around A (whose view is frozen without B), then steps 1 mm
  // outside it. On the circle B must be seen; one millimetre out it need not be.
  NodeConfig cfg;
  cfg.width_mm = 1000 * kM;
  cfg.height_mm = 1000 * kM;
  cfg.aoi_radius_mm = 100 * kM;
  cfg.hysteresis_mm = 10 * kM;
  cfg.max_players = 2;
  cfg.player_speed_max_mm_s = 20'000 * kM;
  cfg.channel.window_max = 1;
  Harness h{cfg};
  const std::int64_t speed = cfg.player_speed_max_mm_s;
  h.join(1, {500 * kM, 500 * kM}, /*stalled=*/true);
  h.join(2, {900 * kM, 900 * kM});
  h.tick();  // 1: A's view = {A}
  for (const Vec2 p : {Vec2{500 * kM, 600 * kM}, Vec2{500 * kM, 600 * kM}, Vec2{600 * kM, 500 * kM},
                       Vec2{500 * kM, 400 * kM}, Vec2{400 * kM, 500 * kM},
                       Vec2{500 * kM, 600 * kM + 1}, Vec2{500 * kM, 600 * kM + 1}}) {
    h.move(2, p, speed);
    h.tick();  // 2..8
  }
  CHECK(h.oracle_per_tick() == std::vector<std::uint64_t>{0, 0, 1, 1, 1, 1, 0, 0});
  CHECK(h.brute_per_tick() == h.oracle_per_tick());
}

TEST_CASE("checkers: continuity counts each broken stream operation exactly once",
          "[sim][checkers][continuity]") {
  ViolationLog log;
  ContinuityChecker checker{log, 2, Duration::millis(50)};
  const auto at_tick = [](std::uint64_t tick) {
    return Time::zero() + Duration::millis(50) * static_cast<std::int64_t>(tick);
  };
  auto batch = [](std::uint64_t tick, std::vector<std::uint64_t> enters,
                  std::vector<std::uint64_t> updates, std::vector<std::uint64_t> leaves) {
    wire::AoiBatch b;
    b.tick = tick;
    for (auto id : enters) b.enters.push_back({EntityId{id}, wire::EntityKind::npc, {0, 0}});
    for (auto id : updates) b.updates.push_back({EntityId{id}, {1, 1}});
    for (auto id : leaves) b.leaves.push_back(EntityId{id});
    return b;
  };

  // A clean stream: enter, update, leave, enter again.
  checker.on_batch(1, batch(1, {5, 6}, {}, {}), at_tick(1));
  checker.on_batch(1, batch(2, {}, {5, 6}, {}), at_tick(2));
  checker.on_batch(1, batch(3, {}, {6}, {5}), at_tick(3));
  checker.on_batch(1, batch(4, {5}, {}, {6}), at_tick(4));
  REQUIRE(checker.violations() == 0);

  SECTION("a duplicate enter") {
    checker.on_batch(1, batch(5, {5, 7}, {}, {}), at_tick(5));
    CHECK(log.first().back().detail == "duplicate enter of entity 5");
  }
  SECTION("an update of an entity not in view") {
    checker.on_batch(1, batch(5, {}, {5, 6}, {}), at_tick(5));
    CHECK(log.first().back().detail == "update of entity 6 not in view");
  }
  SECTION("a leave of an entity not in view") {
    checker.on_batch(1, batch(5, {}, {}, {5, 6}), at_tick(5));
    CHECK(log.first().back().detail == "leave of entity 6 not in view");
  }
  SECTION("a tick going backwards") {
    checker.on_batch(1, batch(3, {}, {5}, {}), at_tick(5));
    CHECK(log.first().back().detail == "batch for tick 3 after tick 4");
  }
  SECTION("a tick repeated") {
    checker.on_batch(1, batch(4, {}, {5}, {}), at_tick(5));
    CHECK(log.first().back().detail == "batch for tick 4 after tick 4");
  }
  SECTION("a stream that was never started") {
    checker.on_batch(2, batch(1, {}, {9}, {}), at_tick(1));
    CHECK(log.first().back().entity == 2);
    CHECK(log.first().back().detail == "update of entity 9 not in view");
  }
  CHECK(checker.violations() == 1);
  CHECK(log.total() == 1);
  CHECK(log.first().back().checker == "aoi.continuity_violations");

  // The stream carries on cleanly afterwards: nothing is counted twice.
  checker.on_batch(1, batch(10, {8}, {}, {}), at_tick(10));
  checker.on_batch(1, batch(11, {}, {8}, {8}), at_tick(11));
  CHECK(checker.violations() == 1);
}

// The checker's searches take shortcuts (the entry after the previous hit first, a few linear steps,
// a restart for a list that is not ascending): against a plain set, over random lists that mostly
// follow the view, in any order, with repeats and ids it does not hold, they must count the same.
TEST_CASE("checkers: continuity counts what a plain set model counts, for lists in any order",
          "[sim][checkers][continuity]") {
  Rng rng{0xc0417};
  ViolationLog log;
  ContinuityChecker checker{log, 1, Duration::millis(50)};
  std::set<std::uint64_t> model;
  std::uint64_t expected = 0;
  for (std::uint64_t tick = 1; tick <= 4000; ++tick) {
    wire::AoiBatch b;
    b.tick = tick;
    const auto pick = [&](std::vector<std::uint64_t>& ids, std::uint64_t n) {
      for (std::uint64_t k = 0; k < n; ++k) ids.push_back(1 + rng.below(24));
      if (rng.below(4) != 0) std::sort(ids.begin(), ids.end());  // mostly ascending
    };
    std::vector<std::uint64_t> enters;
    std::vector<std::uint64_t> updates{model.begin(), model.end()};  // mostly the whole view
    std::vector<std::uint64_t> leaves;
    pick(enters, rng.below(3));
    if (rng.below(3) == 0) pick(updates, rng.below(3));
    pick(leaves, rng.below(3));
    for (auto id : enters) {
      b.enters.push_back({EntityId{id}, wire::EntityKind::npc, {0, 0}});
      if (!model.insert(id).second) ++expected;
    }
    for (auto id : updates) {
      b.updates.push_back({EntityId{id}, {1, 1}});
      if (model.count(id) == 0) ++expected;
    }
    for (auto id : leaves) {
      b.leaves.push_back(EntityId{id});
      if (model.erase(id) == 0) ++expected;
    }
    checker.on_batch(1, b, Time::zero() + Duration::millis(50) * static_cast<std::int64_t>(tick));
    REQUIRE(checker.violations() == expected);
  }
  CHECK(expected > 1000);  // the lists did break the stream, often
}

TEST_CASE("checkers: continuity counts a leave then enter faster than the hysteresis allows",
          "[sim][checkers][continuity]") {
  // 10 m of hysteresis at 6 m/s each way: 833 ms at the least between a real leave and return; a
  // quarter of that, in whole 50 ms ticks, is the window.
  const Duration tick = Duration::millis(50);
  const Duration window = ContinuityChecker::reentry_window_for(10'000, 6'000, tick);
  CHECK(window == Duration::millis(200));
  CHECK(ContinuityChecker::reentry_window_for(0, 6'000, tick) == Duration::zero());
  CHECK(ContinuityChecker::reentry_window_for(1'000, 6'000, tick) == Duration::zero());  // < 1 tick

  ViolationLog log;
  ContinuityChecker checker{log, 1, tick, window};
  const auto at = [](std::int64_t ms) { return Time::zero() + Duration::millis(ms); };
  auto batch = [](std::uint64_t t, std::vector<std::uint64_t> enters, std::vector<std::uint64_t> leaves) {
    wire::AoiBatch b;
    b.tick = t;
    for (auto id : enters) b.enters.push_back({EntityId{id}, wire::EntityKind::npc, {0, 0}});
    for (auto id : leaves) b.leaves.push_back(EntityId{id});
    return b;
  };
  checker.on_batch(1, batch(1, {5, 6}, {}), at(52));
  checker.on_batch(1, batch(2, {}, {5, 6}), at(102));  // both leave at tick 2
  REQUIRE(checker.violations() == 0);

  SECTION("back two ticks later: a blink") {
    checker.on_batch(1, batch(4, {5}, {}), at(202));
    CHECK(checker.violations() == 1);
    CHECK(checker.reentries() == 1);
    CHECK(log.first().back().detail ==
          "entity 5 left at tick 2 and entered again at tick 4 (100.000 ms later): faster than it "
          "can cross the hysteresis, a spurious leave/enter");
    // Counted once: the leave it matched is used up.
    checker.on_batch(1, batch(5, {}, {5}), at(252));
    checker.on_batch(1, batch(11, {5}, {}), at(552));
    CHECK(checker.reentries() == 1);
  }
  SECTION("back at the edge of the window, or beyond it") {
    checker.on_batch(1, batch(6, {5}, {}), at(302));  // 4 ticks, 200 ms: still inside
    CHECK(checker.reentries() == 1);
    checker.on_batch(1, batch(11, {6}, {}), at(552));  // 9 ticks
    CHECK(checker.reentries() == 1);
  }
  SECTION("close in tick numbers but not in arrival: the leave came late") {
    checker.on_batch(1, batch(3, {5}, {}), at(400));
    CHECK(checker.reentries() == 0);
  }
  SECTION("a fault excuses it, until the cluster has settled") {
    checker.disturbance_begin();
    checker.on_batch(1, batch(3, {5}, {}), at(152));  // back during the fault
    checker.on_batch(1, batch(4, {}, {5}), at(202));  // and gone again
    checker.disturbance_end(at(400));
    checker.on_batch(1, batch(5, {5}, {}), at(252));  // left during the fault
    CHECK(checker.reentries() == 0);
    checker.on_batch(1, batch(9, {}, {5}), at(452));  // settled: counted again
    checker.on_batch(1, batch(10, {5}, {}), at(502));
    CHECK(checker.reentries() == 1);
  }
  SECTION("a reset stream starts with no leaves behind it") {
    checker.on_reset(1, at(150));
    checker.on_batch(1, batch(4, {5}, {}), at(202));
    CHECK(checker.reentries() == 0);
  }
  CHECK(checker.violations() == checker.reentries());
}

TEST_CASE("checkers: continuity reports the longest lag between a tick and its batch",
          "[sim][checkers][continuity]") {
  ViolationLog log;
  ContinuityChecker checker{log, 1, Duration::millis(50)};
  wire::AoiBatch b;
  b.enters.push_back({EntityId{1}, wire::EntityKind::player, {0, 0}});
  b.tick = 10;  // produced at 500 ms
  checker.on_batch(1, b, Time::zero() + Duration::millis(530));
  b.enters.clear();
  b.tick = 11;  // produced at 550 ms
  checker.on_batch(1, b, Time::zero() + Duration::millis(552));
  CHECK(checker.max_lag() == Duration::millis(30));
  CHECK(checker.violations() == 0);
}

TEST_CASE("checkers: density counts every cell outside its bounds after each pass",
          "[sim][checkers][density]") {
  // bots_min above bots_max (the loader refuses it; the engine does not): every density pass spawns
  // up to 5 and then despawns down to 3, so each of the 4 cells is outside [5, 3] after each pass.
  NodeConfig cfg;
  cfg.width_mm = 400 * kM;
  cfg.height_mm = 400 * kM;
  cfg.cells_x = 2;
  cfg.cells_y = 2;
  cfg.aoi_radius_mm = 50 * kM;
  cfg.hysteresis_mm = 5 * kM;
  cfg.max_players = 1;
  cfg.bots_min = 5;
  cfg.bots_max = 3;
  Harness h{cfg};
  REQUIRE(h.node().density_every() == 20);
  for (int t = 1; t <= 19; ++t) h.tick();
  CHECK(h.density().violations() == 0);  // checked right after passes only
  h.tick();
  CHECK(h.density().violations() == 4);
  for (int t = 21; t <= 40; ++t) h.tick();
  CHECK(h.density().violations() == 8);
  CHECK(h.log().first().front().detail == "cell 0 has 3 NPCs, outside [5, 3]");
}

TEST_CASE("checkers: the violation log keeps the first 20 in detail and counts them all",
          "[sim][checkers]") {
  ViolationLog log;
  for (int i = 0; i < 50; ++i)
    log.add("aoi.oracle_mismatches", Time::from_micros(i), static_cast<std::uint64_t>(i), "x");
  CHECK(log.total() == 50);
  REQUIRE(log.first().size() == 20);
  CHECK(log.first().front().entity == 0);
  CHECK(log.first().back().entity == 19);
}

}  // namespace shardsim::sim

TEST_CASE("authority checker: a player real in two cells, and a joined player in none, are caught",
          "[sim][checkers][authority]") {
  using namespace shardsim;
  const auto make_cell = [](std::uint32_t id, std::int64_t x0) {
    return Cell{CellId{id}, Rect{{x0, 0}, {x0 + 1000, 1000}}, Rng{id}};
  };
  const auto player = [](std::uint64_t id) {
    Entity e;
    e.id = EntityId{id};
    e.kind = wire::EntityKind::player;
    return e;
  };
  std::vector<Cell> cells;
  cells.push_back(make_cell(0, 0));
  cells.push_back(make_cell(1, 1000));
  // Players 1..3 joined; player 4 has not. An NPC with a large id is not a player.
  const std::vector<std::uint8_t> joined = {0, 1, 1, 1, 0};
  cells[0].reals.push_back(player(1));
  cells[1].reals.push_back(player(2));
  cells[1].reals.push_back(player(3));
  Entity npc;
  npc.id = EntityId{1000};
  npc.kind = wire::EntityKind::npc;
  cells[0].reals.push_back(npc);

  sim::ViolationLog log;
  sim::AuthorityChecker checker{log};
  checker.check_cells(cells, joined, Time::from_micros(50'000));
  CHECK(checker.lost() == 0);
  CHECK(checker.duplicated() == 0);

  cells[0].reals.push_back(player(3));          // player 3 now real in both cells
  cells[1].reals.erase(cells[1].reals.begin());  // player 2 gone from everywhere
  checker.check_cells(cells, joined, Time::from_micros(100'000));
  CHECK(checker.duplicated() == 1);
  CHECK(checker.lost() == 1);
  REQUIRE(log.first().size() == 2);
  CHECK(log.total() == 2);
  const bool dup_first = log.first()[0].checker == "players.duplicated";
  const auto& dup = log.first()[dup_first ? 0 : 1];
  const auto& lost = log.first()[dup_first ? 1 : 0];
  CHECK(dup.entity == 3);
  CHECK(lost.entity == 2);
  CHECK(lost.at == Time::from_micros(100'000));
}

namespace shardsim::sim {

TEST_CASE("cluster checker: split brain as the order of cell ticks shows it", "[checkers]") {
  ViolationLog log;
  Time now = Time::zero();
  const auto tick = Duration::millis(50);
  ClusterChecker c{log, now, {.nodes = 2, .cells = 4, .players = 1}};  // fresh for each section
  SECTION("two nodes tick a cell at the same instant, the first then lets go") {
    c.on_cell_tick(1, 2, 1);
    c.on_cell_tick(2, 2, 2);  // node-1 still holds cell 2 and ticked it at this instant
    c.on_cell_release(1, 2);
    now = now + tick;
    c.on_cell_tick(2, 2, 2);
    CHECK(c.split_brain() == 1);
  }
  SECTION("one, the other, the first again, neither letting go") {
    c.on_cell_tick(1, 2, 1);
    now = now + tick;
    c.on_cell_tick(2, 2, 2);
    now = now + tick;
    c.on_cell_tick(1, 2, 1);
    CHECK(c.split_brain() == 1);
  }
  SECTION("a handover of the cell: the first lets go before the second ticks") {
    c.on_cell_tick(1, 2, 1);
    c.on_cell_release(1, 2);
    c.on_cell_tick(2, 2, 2);  // the same instant, but node-1 no longer holds it
    now = now + tick;
    c.on_cell_tick(2, 2, 2);
    CHECK(c.split_brain() == 0);
  }
  SECTION("the second ticks a tick later, and the first lets go without ticking again") {
    // A node that fenced (or migrated the cell) without another tick simulated nothing beside the
    // new owner.
    c.on_cell_tick(1, 2, 1);
    now = now + tick;
    c.on_cell_tick(2, 2, 2);
    c.on_cell_release(1, 2);
    now = now + tick;
    c.on_cell_tick(2, 2, 2);
    CHECK(c.split_brain() == 0);
  }
}

}  // namespace shardsim::sim
