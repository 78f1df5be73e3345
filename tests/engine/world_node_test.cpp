// engine/world/world_node: the node driven tick by tick through fakes. Clients are real
// ReliableChannels on the test side: they send Join and MoveInput as data frames and decode, apply
// and check every AOI batch the node sends, so each test sees exactly what a player would see.
#include "engine/world/world_node.h"

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/net/reliable_channel.h"
#include "engine/wire/messages.h"
#include "engine/world/config.h"
#include "tests/engine/fakes.h"

namespace shardsim {
namespace {

using testing::FakeTimers;
using testing::ManualClock;
using testing::RecordingTracer;
using testing::RecordingTransport;
using Bytes = std::vector<std::uint8_t>;

constexpr HostId kNode{100};
constexpr std::uint64_t kTickTag = 1;

// Two cells side by side: cell 0 is x in [0, 200 m), cell 1 is x in [200 m, 400 m).
NodeConfig two_cells() {
  NodeConfig c;
  c.seed = 1;
  c.width_mm = 400'000;
  c.height_mm = 200'000;
  c.cells_x = 2;
  c.cells_y = 1;
  c.aoi_radius_mm = 30'000;
  c.hysteresis_mm = 5'000;
  c.handover_dwell = Duration::millis(500);
  c.tick = Duration::millis(50);
  c.max_players = 8;
  c.player_speed_max_mm_s = 6'000;
  return c;
}

// One player's connection as the test sees it: the channel, and the world as the stream describes
// it.
struct TestClient {
  explicit TestClient(HostId h) : host{h}, transport{h} {}

  void receive(std::span<const std::uint8_t> frame) {
    const auto result =
        channel.on_frame(frame, transport, kNode, [&](std::span<const std::uint8_t> p) {
          wire::AoiBatch b;
          REQUIRE(wire::decode(p, b));
          apply(b);
        });
    REQUIRE(result == ReliableChannel::FrameResult::ok);
    channel.flush_ack(transport, kNode);
  }

  void apply(const wire::AoiBatch& b) {
    if (!batches.empty()) CHECK(b.tick > batches.back().tick);
    for (const auto& e : b.enters) {
      if (!view.emplace(e.id.value(), e.pos).second)
        anomalies.push_back("enter of visible " + id_str(e.id));
      ++enters[e.id.value()];
    }
    for (const auto& u : b.updates) {
      auto it = view.find(u.id.value());
      if (it == view.end()) {
        anomalies.push_back("update of invisible " + id_str(u.id));
        continue;
      }
      it->second = it->second + u.delta;
    }
    for (EntityId id : b.leaves) {
      if (view.erase(id.value()) == 0) anomalies.push_back("leave of invisible " + id_str(id));
      ++leaves[id.value()];
    }
    batches.push_back(b);
  }

  static std::string id_str(EntityId id) { return std::to_string(id.value()); }
  bool sees(std::uint64_t id) const { return view.count(id) != 0; }

  HostId host;
  RecordingTransport transport;
  ReliableChannel channel;
  std::map<std::uint64_t, Vec2> view;  // what the stream says is visible, and where
  std::map<std::uint64_t, int> enters;
  std::map<std::uint64_t, int> leaves;
  std::vector<wire::AoiBatch> batches;
  std::vector<std::string> anomalies;
};

class FnObserver final : public TickObserver {
 public:
  std::function<void(const WorldNode&, std::uint64_t)> fn;
  void on_tick_end(const WorldNode& node, std::uint64_t tick) override {
    if (fn) fn(node, tick);
  }
};

// Where an entity is real: the cell index and the record. Exactly one cell may hold it.
struct Located {
  std::size_t cell{0};
  const Entity* entity{nullptr};
};

Located locate(const WorldNode& node, std::uint64_t id) {
  Located found;
  int holders = 0;
  for (std::size_t c = 0; c < node.cells().size(); ++c)
    for (const auto& e : node.cells()[c].reals)
      if (e.id.value() == id) {
        found = {c, &e};
        ++holders;
      }
  REQUIRE(holders == 1);
  return found;
}

struct RealSnap {
  std::size_t cell;
  std::uint64_t id;
  wire::EntityKind kind;
  Vec2 pos;
  Vec2 target;
  std::int64_t speed;
  std::vector<std::pair<std::uint64_t, Vec2>> view;
  bool operator==(const RealSnap&) const = default;
};

std::vector<RealSnap> snapshot(const WorldNode& node) {
  std::vector<RealSnap> out;
  for (std::size_t c = 0; c < node.cells().size(); ++c)
    for (const auto& e : node.cells()[c].reals) {
      RealSnap s{c, e.id.value(), e.kind, e.pos, e.target, e.speed_mm_s, {}};
      for (const auto& v : e.view) s.view.emplace_back(v.id.value(), v.sent_pos);
      out.push_back(std::move(s));
    }
  return out;
}

auto stats_fields(const WorldNode::Stats& s) {
  return std::make_tuple(s.handovers_local, s.aoi_messages, s.aoi_bytes, s.aoi_enters, s.aoi_leaves,
                         s.aoi_client_ticks, s.bots_spawned, s.bots_despawned, s.decode_errors,
                         s.channel_overflows, s.retransmits, s.inputs, s.rejected_joins,
                         s.entities_max);
}

// The node plus its fake environment and clients on a perfect network.
class Harness {
 public:
  explicit Harness(NodeConfig config)
      : node_transport{kNode},
        node{Env{clock, timers, node_transport, tracer}, config, &observer} {}

  void start() {
    node.on_start();
    REQUIRE(timers.armed().size() == 1);
  }

  TestClient& add_client() {
    clients.push_back(
        std::make_unique<TestClient>(HostId{static_cast<std::uint32_t>(clients.size() + 1)}));
    return *clients.back();
  }

  TestClient& join(std::uint64_t player_id, Vec2 spawn) {
    TestClient& c = add_client();
    Bytes b;
    wire::encode(wire::Join{player_id, spawn}, b);
    REQUIRE(c.channel.send(b, clock.now(), c.transport, kNode));
    route();
    REQUIRE(node.player_spawned(player_id));
    return c;
  }

  void move(TestClient& c, Vec2 target, std::int64_t speed) {
    Bytes b;
    wire::encode(wire::MoveInput{target, speed}, b);
    REQUIRE(c.channel.send(b, clock.now(), c.transport, kNode));
    route();
  }

  // Fires the node's one tick timer at its deadline, then lets every frame reach its destination.
  void tick() {
    REQUIRE(timers.armed().size() == 1);
    const auto t = timers.pop_next();
    REQUIRE(t.tag == kTickTag);
    clock.advance_to(t.at);
    node.on_timer(kTickTag);
    route();
  }

  void route() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (auto& s : node_transport.take()) {
        moved = true;
        client_at(s.to).receive(s.bytes);
      }
      for (auto& c : clients)
        for (auto& s : c->transport.take()) {
          moved = true;
          REQUIRE(s.to == kNode);
          node.on_message(c->host, s.bytes);
        }
      if (!moved) return;
    }
    FAIL("frames still bouncing after 100 rounds");
  }

  TestClient& client_at(HostId h) {
    for (auto& c : clients)
      if (c->host == h) return *c;
    FAIL("the node sent to a host that is not a client: " << h.value());
    return *clients.front();
  }

  // Ticks until player `id` stands on `target` (and `extra` ticks more), calling `each` after every
  // tick.
  void walk(std::uint64_t id, Vec2 target, int extra = 2, const std::function<void()>& each = {}) {
    for (int guard = 0; locate(node, id).entity->pos != target; ++guard) {
      REQUIRE(guard < 10'000);
      tick();
      if (each) each();
    }
    for (int i = 0; i < extra; ++i) {
      tick();
      if (each) each();
    }
  }

  ManualClock clock;
  FakeTimers timers;
  RecordingTransport node_transport;
  RecordingTracer tracer;
  FnObserver observer;
  WorldNode node;
  std::vector<std::unique_ptr<TestClient>> clients;
};

void require_clean(const TestClient& c) {
  INFO("client " << c.host.value());
  for (const auto& a : c.anomalies) FAIL_CHECK(a);
  REQUIRE(c.anomalies.empty());
}

}  // namespace

// ---- (a) join -----------------------------------------------------------------------------------

TEST_CASE("world node: a player that joins gets an AOI batch that enters itself",
          "[engine][world_node]") {
  Harness h{two_cells()};
  h.start();
  TestClient& c = h.join(1, {50'000, 60'000});
  REQUIRE(c.batches.empty());  // nothing is sent before the first tick
  h.tick();
  REQUIRE(c.batches.size() == 1);
  const auto& b = c.batches[0];
  REQUIRE(b.tick == 1);
  REQUIRE(b.enters.size() == 1);
  REQUIRE(b.enters[0].id == EntityId{1});
  REQUIRE(b.enters[0].kind == wire::EntityKind::player);
  REQUIRE(b.enters[0].pos == Vec2{50'000, 60'000});
  // Standing still, the next tick has nothing to say.
  h.tick();
  REQUIRE(c.batches.size() == 1);
  // A second player nearby enters both streams; one far away enters neither.
  TestClient& near = h.join(2, {60'000, 60'000});
  TestClient& far = h.join(3, {150'000, 60'000});
  h.tick();
  REQUIRE(c.sees(2));
  REQUIRE_FALSE(c.sees(3));
  REQUIRE(near.sees(1));
  REQUIRE(near.sees(2));
  REQUIRE(far.view.size() == 1);
  REQUIRE(far.sees(3));
  REQUIRE(h.node.players_spawned() == 3);
  for (const auto* x : {&c, &near, &far}) require_clean(*x);
}

TEST_CASE("world node: a second join, an unknown id and a taken id are rejected",
          "[engine][world_node]") {
  Harness h{two_cells()};
  h.start();
  TestClient& c = h.join(1, {50'000, 60'000});
  Bytes b;
  wire::encode(wire::Join{2, {1, 1}}, b);
  REQUIRE(c.channel.send(b, h.clock.now(), c.transport, kNode));  // second join on one session
  TestClient& taken = h.add_client();
  Bytes b1;
  wire::encode(wire::Join{1, {1, 1}}, b1);
  REQUIRE(taken.channel.send(b1, h.clock.now(), taken.transport, kNode));
  TestClient& unknown = h.add_client();
  Bytes b9;
  wire::encode(wire::Join{9, {1, 1}}, b9);  // max_players is 8
  REQUIRE(unknown.channel.send(b9, h.clock.now(), unknown.transport, kNode));
  h.route();
  REQUIRE(h.node.stats().rejected_joins == 3);
  REQUIRE(h.node.players_spawned() == 1);
  REQUIRE_FALSE(h.node.player_spawned(2));
  REQUIRE(locate(h.node, 1).entity->pos == Vec2{50'000, 60'000});
}

// ---- (b) local handover -------------------------------------------------------------------------

TEST_CASE(
    "world node: a player crossing a cell border is handed over once, after the dwell, invisibly",
    "[engine][world_node][handover]") {
  const std::int64_t dwell_ms = GENERATE(500, 520, 0);
  INFO("handover_dwell " << dwell_ms << " ms");
  NodeConfig config = two_cells();
  config.handover_dwell = Duration::millis(dwell_ms);
  Harness h{config};
  h.start();
  const std::int64_t border = 200'000;
  const std::int64_t band_end = border + config.hysteresis_mm;  // beyond: x >= band_end
  TestClient& walker = h.join(1, {190'000, 100'000});
  TestClient& west = h.join(2, {188'000, 100'000});  // stays in cell 0; ends 32 m away: in the band
  TestClient& east = h.join(3, {212'000, 100'000});  // stays in cell 1
  h.tick();
  REQUIRE(walker.view.size() == 3);

  std::int64_t first_beyond_tick = -1;
  std::int64_t handover_tick = -1;
  h.move(walker, {220'000, 100'000}, 4'000);  // 200 mm per tick
  h.walk(1, {220'000, 100'000}, 5, [&] {
    const auto t = static_cast<std::int64_t>(h.node.tick());
    const Located at = locate(h.node, 1);
    if (first_beyond_tick < 0 && at.entity->pos.x >= band_end) first_beyond_tick = t;
    if (at.cell == 1 && handover_tick < 0) handover_tick = t;
    if (handover_tick >= 0) REQUIRE(at.cell == 1);           // never handed back
    if (at.entity->pos.x < band_end) REQUIRE(at.cell == 0);  // inside the band: not yet
    // The client's picture of itself tracks the truth every tick, across the handover too.
    REQUIRE(walker.view.at(1) == at.entity->pos);
    REQUIRE(walker.sees(2));
    REQUIRE(walker.sees(3));
    REQUIRE(west.sees(1));
    REQUIRE(east.sees(1));
  });
  REQUIRE(first_beyond_tick > 0);
  REQUIRE(handover_tick > 0);
  const std::int64_t waited_ms = (config.tick * (handover_tick - first_beyond_tick)).ms();
  INFO("first beyond at tick " << first_beyond_tick << ", handed over at tick " << handover_tick);
  REQUIRE(waited_ms >= dwell_ms);
  REQUIRE(waited_ms < dwell_ms + config.tick.ms());  // and no later than needed
  REQUIRE(h.node.stats().handovers_local == 1);
  REQUIRE(h.tracer.count(TraceKind::handover_local) == 1);
  // No stream saw the handover: each entity entered each stream once and never left.
  for (const auto* c : {&walker, &west, &east}) {
    require_clean(*c);
    INFO("client " << c->host.value());
    REQUIRE(c->leaves.empty());
    for (const auto& [id, n] : c->enters) REQUIRE(n == 1);
  }
  REQUIRE(walker.enters.size() == 3);
}

// ---- (c) oscillation inside the hysteresis band
// ---------------------------------------------------

TEST_CASE("world node: an entity oscillating in the hysteresis band is never handed over",
          "[engine][world_node][handover]") {
  NodeConfig config = two_cells();
  Harness h{config};
  h.start();
  TestClient& a =
      h.join(1, {199'000, 50'000});  // real in cell 0, will wander into cell 1's rectangle
  TestClient& b =
      h.join(2, {201'000, 150'000});  // real in cell 1, will wander into cell 0's rectangle
  h.tick();
  const auto check = [&] {
    REQUIRE(locate(h.node, 1).cell == 0);
    REQUIRE(locate(h.node, 2).cell == 1);
  };
  for (int round = 0; round < 6; ++round) {
    // Strictly inside the band on either side: never beyond border + hysteresis.
    h.move(a, {204'999, 50'000}, 6'000);
    h.move(b, {195'000, 150'000}, 6'000);
    h.walk(1, {204'999, 50'000}, 0, check);
    h.walk(2, {195'000, 150'000}, 0, check);
    h.move(a, {200'500, 50'000}, 6'000);
    h.move(b, {199'500, 150'000}, 6'000);
    h.walk(1, {200'500, 50'000}, 0, check);
    h.walk(2, {199'500, 150'000}, 0, check);
  }
  // Short excursions beyond the band, each well under the dwell (5 ticks = 250 ms of 500 ms): the
  // dwell counter must restart every time the entity comes back into the band.
  for (int round = 0; round < 20; ++round) {
    h.move(a, {205'400, 50'000}, 4'000);
    h.walk(1, {205'400, 50'000}, 0, check);
    h.move(a, {203'000, 50'000}, 4'000);
    h.walk(1, {203'000, 50'000}, 0, check);
  }
  REQUIRE(h.node.stats().handovers_local == 0);
  REQUIRE(h.tracer.count(TraceKind::handover_local) == 0);
  require_clean(a);
  require_clean(b);
}

// ---- (d) bot density and NPC determinism
// ----------------------------------------------------------

namespace {

// A small world (3 x 2 cells of 20 m) where fast NPCs cross cells often, checked twice a second.
NodeConfig crowded(std::uint64_t seed) {
  NodeConfig c;
  c.seed = seed;
  c.width_mm = 60'000;
  c.height_mm = 40'000;
  c.cells_x = 3;
  c.cells_y = 2;
  c.aoi_radius_mm = 5'000;
  c.hysteresis_mm = 1'000;
  c.handover_dwell = Duration::millis(200);
  c.tick = Duration::millis(50);
  c.max_players = 4;
  c.bots_min = 3;
  c.bots_max = 5;
  c.bot_speed_min_mm_s = 2'000;
  c.bot_speed_max_mm_s = 6'000;
  c.density_interval = Duration::millis(500);
  return c;
}

std::vector<int> npcs_per_cell(const WorldNode& node) {
  std::vector<int> n;
  for (const auto& cell : node.cells()) {
    int k = 0;
    for (const auto& e : cell.reals) k += e.kind == wire::EntityKind::npc;
    n.push_back(k);
  }
  return n;
}

std::vector<RealSnap> run_npcs(std::uint64_t seed, int ticks) {
  NodeConfig config = two_cells();
  config.seed = seed;
  config.cells_x = 4;
  config.cells_y = 2;
  config.bots_min = 4;
  config.bots_max = 8;
  Harness h{config};
  h.start();
  for (int i = 0; i < ticks; ++i) h.tick();
  return snapshot(h.node);
}

}  // namespace

TEST_CASE("world node: after every density pass each cell's NPC count is within [min, max]",
          "[engine][world_node][density]") {
  const NodeConfig config = crowded(GENERATE(1u, 2u, 3u));
  Harness h{config};
  std::uint64_t passes = 0;
  h.observer.fn = [&](const WorldNode& node, std::uint64_t tick) {
    // Every entity is real in exactly one cell, every tick.
    std::map<std::uint64_t, int> holders;
    for (const auto& cell : node.cells())
      for (const auto& e : cell.reals) ++holders[e.id.value()];
    for (const auto& [id, n] : holders) REQUIRE(n == 1);
    if (tick % node.density_every() != 0) return;
    ++passes;
    const auto counts = npcs_per_cell(node);
    for (std::size_t c = 0; c < counts.size(); ++c) {
      INFO("tick " << tick << " cell " << c);
      REQUIRE(counts[c] >= config.bots_min);
      REQUIRE(counts[c] <= config.bots_max);
    }
  };
  h.start();
  for (int c : npcs_per_cell(h.node)) REQUIRE(c == config.bots_min);  // spawned at start
  REQUIRE(h.node.density_every() == 10);
  for (int i = 0; i < 3000; ++i) h.tick();
  REQUIRE(passes == 300);
  // The controller had real work: NPCs moved between cells and had to be both added and removed.
  REQUIRE(h.node.stats().handovers_local > 0);
  REQUIRE(h.node.stats().bots_spawned > 6u * config.bots_min);
  REQUIRE(h.node.stats().bots_despawned > 0);
}

TEST_CASE("world node: NPC spawns and walks are deterministic for a seed",
          "[engine][world_node][density]") {
  const auto a = run_npcs(7, 100);
  const auto b = run_npcs(7, 100);
  const auto c = run_npcs(8, 100);
  REQUIRE(a.size() >= 8 * 4);
  REQUIRE(a == b);
  // Another seed puts no NPC where the first one did (positions are drawn from 100 m x 100 m
  // cells).
  int shared = 0;
  for (const auto& x : a)
    for (const auto& y : c) shared += x.pos == y.pos;
  REQUIRE(shared == 0);
}

// ---- (e) AOI hysteresis -------------------------------------------------------------------------

TEST_CASE("world node: AOI enters inside the radius and leaves only beyond radius + hysteresis",
          "[engine][world_node][aoi]") {
  const NodeConfig config = two_cells();
  const std::int64_t r = config.aoi_radius_mm;
  const std::int64_t hy = config.hysteresis_mm;
  Harness h{config};
  h.start();
  const Vec2 p1{50'000, 100'000};
  TestClient& still = h.join(1, p1);
  TestClient& mover = h.join(2, {p1.x + 60'000, p1.y});
  h.tick();
  REQUIRE_FALSE(still.sees(2));
  const auto at = [&](std::int64_t d) { return Vec2{p1.x + d, p1.y}; };
  const auto go = [&](std::int64_t d) {
    h.move(mover, at(d), 6'000);
    h.walk(2, at(d));
  };
  go(r + 1);  // approaching: in the band but never inside the radius
  REQUIRE_FALSE(still.sees(2));
  REQUIRE_FALSE(mover.sees(1));
  go(r - 1);
  REQUIRE(still.sees(2));
  REQUIRE(mover.sees(1));
  REQUIRE(still.view.at(2) == at(r - 1));
  go(r + hy - 1);  // receding into the band: stays, position kept current
  REQUIRE(still.sees(2));
  REQUIRE(still.view.at(2) == at(r + hy - 1));
  go(r + hy);  // exactly radius + hysteresis is not beyond it
  REQUIRE(still.sees(2));
  go(r + hy + 1);
  REQUIRE_FALSE(still.sees(2));
  REQUIRE_FALSE(mover.sees(1));
  go(r + 1);  // back into the band: not re-entered
  REQUIRE_FALSE(still.sees(2));
  go(r - 1);
  REQUIRE(still.sees(2));
  REQUIRE(still.enters.at(2) == 2);
  REQUIRE(still.leaves.at(2) == 1);
  REQUIRE(mover.enters.at(1) == 2);
  REQUIRE(mover.leaves.at(1) == 1);
  require_clean(still);
  require_clean(mover);
}

// ---- (f) malformed frames -----------------------------------------------------------------------

TEST_CASE("world node: a malformed frame counts a decode error and changes nothing else",
          "[engine][world_node][malformed]") {
  // Two identical nodes in lockstep; only one of them is sent garbage. Afterwards both must be in
  // the same state and must have sent the same bytes.
  Harness clean{two_cells()};
  Harness dirty{two_cells()};
  for (Harness* h : {&clean, &dirty}) {
    h->start();
    h->join(1, {50'000, 100'000});
    h->join(2, {60'000, 100'000});
    h->tick();
    h->move(*h->clients[0], {70'000, 110'000}, 3'000);
    for (int i = 0; i < 3; ++i) h->tick();
  }
  REQUIRE(snapshot(clean.node) == snapshot(dirty.node));

  Bytes never_sent_ack{0x01, 0x01};  // data seq 1, acking seq 500 the node never sent
  never_sent_ack.insert(never_sent_ack.end(), {0xf4, 0x03});
  const std::vector<Bytes> garbage = {
      {},
      {0x00},
      {0x07, 0x01, 0x02},
      {0x02},              // ack without a number
      {0x02, 0x01, 0xff},  // ack with trailing garbage
      {0x01, 0x00, 0x00},  // seq 0
      never_sent_ack,
      {0x02, 0xf4, 0x03},  // ack for seq 500, never sent
  };
  const auto before = dirty.node.stats();
  for (const auto& g : garbage) dirty.node.on_message(dirty.clients[0]->host, g);
  dirty.node.on_message(HostId{77}, Bytes{0x42});  // from a host that never spoke before
  REQUIRE(dirty.node_transport.sent().empty());    // nothing is answered
  auto expected = before;
  expected.decode_errors += garbage.size() + 1;
  REQUIRE(stats_fields(dirty.node.stats()) == stats_fields(expected));
  REQUIRE(snapshot(clean.node) == snapshot(dirty.node));

  // The game continues identically, byte for byte.
  for (Harness* h : {&clean, &dirty}) h->move(*h->clients[1], {40'000, 90'000}, 6'000);
  for (int i = 0; i < 40; ++i) {
    clean.tick();
    dirty.tick();
    REQUIRE(snapshot(clean.node) == snapshot(dirty.node));
    for (std::size_t c = 0; c < 2; ++c) {
      REQUIRE(clean.clients[c]->view == dirty.clients[c]->view);
      REQUIRE(clean.clients[c]->batches.size() == dirty.clients[c]->batches.size());
    }
  }
  auto clean_stats = clean.node.stats();
  clean_stats.decode_errors += garbage.size() + 1;
  REQUIRE(stats_fields(dirty.node.stats()) == stats_fields(clean_stats));
}

TEST_CASE(
    "world node: a well-framed but undecodable payload counts a decode error and moves nothing",
    "[engine][world_node][malformed]") {
  Harness h{two_cells()};
  h.start();
  TestClient& c = h.join(1, {50'000, 100'000});
  h.tick();
  const auto world = snapshot(h.node);
  const auto before = h.node.stats();
  Bytes move_trailing;
  wire::encode(wire::MoveInput{{90'000, 100'000}, 5'000}, move_trailing);
  move_trailing.push_back(0);
  const std::vector<Bytes> payloads = {
      {},                  // empty
      {0x33, 1, 2},        // unknown type
      {0x10, 0x80},        // truncated join
      {0x11, 0x02, 0x02},  // move input without a speed
      move_trailing,       // move input with a trailing byte
      {0x20, 1, 0, 0, 0},  // a server-to-client message
  };
  for (const auto& p : payloads) REQUIRE(c.channel.send(p, h.clock.now(), c.transport, kNode));
  h.route();
  auto expected = before;
  expected.decode_errors += payloads.size();
  REQUIRE(stats_fields(h.node.stats()) == stats_fields(expected));
  REQUIRE(snapshot(h.node) == world);
  for (int i = 0; i < 5; ++i) h.tick();
  REQUIRE(locate(h.node, 1).entity->pos == Vec2{50'000, 100'000});
  REQUIRE(h.node.stats().inputs == 0);
  require_clean(c);
}

}  // namespace shardsim
