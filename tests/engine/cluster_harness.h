// A deterministic harness for the Phase B protocol: real engine processes — one Directory, one
// SessionStore, two WorldNodes in cluster mode, one Gateway and one GameClient — each with its own
// ManualClock, FakeTimers and tracer, wired to a message pump the test controls.
//
// Time: one global virtual time; every host's clock shows it, and all advance together. Timers fire
// in time order (ties: lower host id first, then the order they were set), and after each one the
// network is pumped until quiet.
// Network: zero latency, FIFO. Every message sent goes through the test's rules first: the first
// matching rule decides its fate — dropped, duplicated (delivered twice in a row), held until the
// test releases it, or "late": held until the next message on the same link (same sender and
// receiver; ghosts and ping/pong do not count) has been delivered, then delivered right after it.
// Unmatched messages are delivered in the order sent. Every message sent and delivered is logged.
//
// The world is 2 x 1 cells. With rendezvous assignment and two nodes, cell 0 goes to node 2 and
// cell 1 to node 1 (the harness checks with pick_owner), so the player, spawned in cell 0 and
// walking east, makes exactly one cross-node handover from `src` (cell 0's owner) to `dst` (cell 1's
// owner). After every event the harness counts the nodes holding the player, so a test sees a
// transient double holder even if it heals before the end.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/client/game_client.h"
#include "engine/cluster/codec.h"
#include "engine/cluster/directory.h"
#include "engine/cluster/gateway.h"
#include "engine/cluster/protocol.h"
#include "engine/cluster/session_store.h"
#include "engine/wire/messages.h"
#include "engine/world/world_node.h"
#include "tests/engine/fakes.h"

namespace shardsim::testing {


using cluster::Msg;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t kAuthKey = 0x5EED'0B5E'55ED'C0DEULL;
constexpr HostId kDirectory{0};
constexpr HostId kStore{1};
constexpr HostId kGateway{4};
constexpr HostId kClient{5};
constexpr HostId kOutsider{99};
constexpr std::uint64_t kPlayer = 1;

constexpr Duration kTick = Duration::millis(50);
constexpr Duration kLease = Duration::seconds(2);
constexpr Duration kHeartbeat = Duration::millis(250);
constexpr Duration kDrift = Duration::millis(50);

inline HostId node_host(std::uint32_t index) { return HostId{1 + index}; }  // node 1 -> host 2, node 2 -> host 3

// --- sealing and opening envelopes, as a member would ---

template <class M>
Bytes seal(Msg type, M m, HostId sender, std::uint64_t key = kAuthKey) {
  Bytes out;
  cluster::Auth{key}.seal(type, m, sender, out);
  return out;
}

template <class M>
M open_as(std::span<const std::uint8_t> bytes, HostId sender, Msg expected) {
  Msg type{};
  std::span<const std::uint8_t> body;
  REQUIRE(cluster::Auth{kAuthKey}.open(bytes, sender, type, body) == cluster::Auth::Open::ok);
  REQUIRE(type == expected);
  M m;
  REQUIRE(cluster::decode_fields(body, m));
  return m;
}

// --- what the engine records, with the virtual time it happened at ---

class TimedTracer final : public Tracer {
 public:
  struct Event {
    TraceKind kind;
    std::uint64_t a{0};
    std::uint64_t b{0};
    std::uint64_t c{0};
    Time at;
  };
  explicit TimedTracer(const Clock& clock) : clock_{clock} {}
  void record(TraceKind kind, std::uint64_t a, std::uint64_t b, std::uint64_t c) override {
    events_.push_back(Event{kind, a, b, c, clock_.now()});
  }
  std::vector<Event> all(TraceKind kind) const {
    std::vector<Event> out;
    for (const auto& e : events_)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  std::size_t count(TraceKind kind) const { return all(kind).size(); }
  const std::vector<Event>& all_events() const { return events_; }
  // Events of `kind` whose `a` field is `a` (a handover id, a node index, a cell...).
  std::vector<Event> with_a(TraceKind kind, std::uint64_t a) const {
    std::vector<Event> out;
    for (const auto& e : events_)
      if (e.kind == kind && e.a == a) out.push_back(e);
    return out;
  }

 private:
  const Clock& clock_;
  std::vector<Event> events_;
};

class Recorder final : public cluster::ClusterObserver {
 public:
  struct CellEvent {
    Time at;
    std::uint32_t node{0};
    std::uint32_t cell{0};
    std::uint64_t epoch{0};
  };
  explicit Recorder(const Time& now) : now_{now} {}
  void on_cell_tick(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override {
    ticks.push_back({now_, node, cell, epoch});
  }
  void on_cell_release(std::uint32_t, std::uint32_t) override {}
  void on_cell_acquire(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override {
    acquires.push_back({now_, node, cell, epoch});
  }
  void on_handover_start(std::uint64_t, std::uint64_t, std::uint32_t, std::uint32_t) override {}
  void on_handover_commit(std::uint64_t, std::uint64_t) override {}
  void on_handover_end(std::uint64_t, std::uint64_t, bool) override {}
  void on_route(std::uint64_t, std::uint32_t, std::uint64_t) override {}
  void on_migration_out(std::uint32_t, std::uint32_t, std::uint32_t,
                        std::span<const cluster::PlayerTransfer>) override {}
  void on_migration_in(std::uint32_t, std::span<const cluster::PlayerTransfer>) override {}

  std::vector<CellEvent> ticks;
  std::vector<CellEvent> acquires;

 private:
  const Time& now_;
};

// The player: spawns, and on its first sight of itself walks to `to` (if any).
class MoveOnce final : public Driver {
 public:
  MoveOnce(Vec2 spawn, std::optional<Vec2> to) : spawn_{spawn}, to_{to} {}
  Vec2 spawn() override { return spawn_; }
  std::optional<wire::MoveInput> on_position(Vec2, Time) override {
    if (sent_ || !to_) return std::nullopt;
    sent_ = true;
    return wire::MoveInput{*to_, 20'000};
  }

 private:
  Vec2 spawn_;
  std::optional<Vec2> to_;
  bool sent_{false};
};

// --- the network as the test sees it ---

struct Packet {
  std::uint64_t id{0};
  HostId from;
  HostId to;
  Bytes bytes;
  Time at;  // sent (in the sent log) or delivered (in the delivered log)

  bool cluster_msg() const { return bytes.size() >= 2 + cluster::kTagBytes && bytes[0] == cluster::kEnvelope; }
  bool is(Msg m) const { return cluster_msg() && bytes[1] == static_cast<std::uint8_t>(m); }
  // Link chatter that says nothing about the protocol step under test.
  bool noise() const { return is(Msg::ghosts) || is(Msg::ping) || is(Msg::pong); }
  template <class M>
  M body(Msg type) const {
    return open_as<M>(bytes, from, type);
  }
};
using Pred = std::function<bool(const Packet&)>;

inline Pred is(Msg m, std::optional<HostId> from = {}, std::optional<HostId> to = {}) {
  return [=](const Packet& p) { return p.is(m) && (!from || p.from == *from) && (!to || p.to == *to); };
}
inline Pred any_packet() {
  return [](const Packet&) { return true; };
}

enum class Fate { drop, duplicate, hold, late };
inline const char* fate_name(Fate f) {
  switch (f) {
    case Fate::drop: return "dropped once";
    case Fate::duplicate: return "duplicated";
    case Fate::hold: return "held";
    case Fate::late: return "delivered late (after the next message on its link)";
  }
  return "?";
}

struct Options {
  bool skip_lease_check{false};
  bool unfenced_abort{false};
  Vec2 spawn{195'000, 100'000};
  std::optional<Vec2> move_to{Vec2{230'000, 100'000}};
};

inline NodeConfig node_config(std::uint32_t index, const Options& o) {
  NodeConfig c;
  c.seed = 7;
  c.width_mm = 400'000;
  c.height_mm = 200'000;
  c.cells_x = 2;
  c.cells_y = 1;
  c.aoi_radius_mm = 30'000;
  c.hysteresis_mm = 2'000;
  c.handover_dwell = Duration::millis(200);
  c.tick = kTick;
  c.max_players = 4;
  c.player_speed_max_mm_s = 20'000;
  auto& cl = c.cluster;
  cl.enabled = true;
  cl.index = index;
  cl.nodes = {node_host(1), node_host(2)};
  cl.gateways = {kGateway};
  cl.store = kStore;
  cl.directory = kDirectory;
  cl.lease = kLease;
  cl.heartbeat = kHeartbeat;
  cl.checkpoint = Duration::seconds(1);
  cl.drift_allowance = kDrift;
  cl.auth_key = kAuthKey;
  cl.bug_skip_lease_check = o.skip_lease_check;
  cl.bug_unfenced_abort = o.unfenced_abort;
  return c;
}

class Cluster {
 public:
  struct Rule {
    Pred match;
    Fate fate{Fate::drop};
    int left{1};  // < 0: unlimited
    int hits{0};
  };

  explicit Cluster(Options o = {}) : options_{o}, driver_{o.spawn, o.move_to}, recorder_{now_} {
    // Where rendezvous puts the two cells with both nodes live (the directory's own policy).
    const std::vector<std::uint8_t> eligible{1, 1};
    const std::vector<std::uint32_t> owned{0, 0};
    const std::vector<std::uint64_t> load{0, 0};
    src_ = cluster::pick_owner(cluster::Policy::rendezvous, 0, eligible, owned, load);
    dst_ = cluster::pick_owner(cluster::Policy::rendezvous, 1, eligible, owned, load);
    REQUIRE(src_ != dst_);

    hosts_.resize(kClient.value() + 1);
    for (std::uint32_t h = 0; h < hosts_.size(); ++h) hosts_[h] = std::make_unique<Host>(*this, HostId{h});

    cluster::DirectoryConfig dc;
    dc.cells = 2;
    dc.nodes = {node_host(1), node_host(2)};
    dc.gateways = {kGateway};
    dc.ttl = kLease;
    dc.margin = kDrift;
    dc.settle = kHeartbeat * 2;
    dc.policy = cluster::Policy::rendezvous;
    dc.auth_key = kAuthKey;
    host(kDirectory).process = std::make_unique<cluster::Directory>(host(kDirectory).env(), dc, directory_state_);

    cluster::StoreConfig sc;
    sc.max_players = 4;
    sc.nodes = {node_host(1), node_host(2)};
    sc.auth_key = kAuthKey;
    host(kStore).process = std::make_unique<cluster::SessionStore>(host(kStore).env(), sc, store_state_);

    for (std::uint32_t i = 1; i <= 2; ++i) {
      auto n = std::make_unique<WorldNode>(host(node_host(i)).env(), node_config(i, options_), nullptr,
                                           &recorder_);
      nodes_[i - 1] = n.get();
      host(node_host(i)).process = std::move(n);
    }

    cluster::GatewayConfig gc;
    gc.max_players = 4;
    gc.cell_width_mm = 200'000;
    gc.cell_height_mm = 200'000;
    gc.cells_x = 2;
    gc.cells_y = 1;
    gc.nodes = {node_host(1), node_host(2)};
    gc.directory = kDirectory;
    gc.poll = kHeartbeat;
    gc.node_timeout = kHeartbeat * 4;
    gc.auth_key = kAuthKey;
    auto g = std::make_unique<cluster::Gateway>(host(kGateway).env(), gc, &recorder_);
    gateway_ = g.get();
    host(kGateway).process = std::move(g);

    ClientOptions co;
    co.via_gateway = true;
    auto client = std::make_unique<GameClient>(host(kClient).env(), kGateway, kPlayer, driver_, nullptr,
                                               ReliableChannel::Config{}, co);
    client_ = client.get();
    host(kClient).process = std::move(client);
  }

  // --- processes ---

  // Directory, store, nodes and gateway (the client joins later, once cells are assigned).
  void start() {
    for (const HostId h : {kDirectory, kStore, node_host(1), node_host(2), kGateway}) start_host(h);
    pump_all();
  }
  void start_client() {
    start_host(kClient);
    pump_all();
  }

  WorldNode& node(std::uint32_t index) { return *nodes_[index - 1]; }
  WorldNode& src() { return node(src_); }
  WorldNode& dst() { return node(dst_); }
  std::uint32_t src_index() const { return src_; }
  std::uint32_t dst_index() const { return dst_; }
  HostId src_host() const { return node_host(src_); }
  HostId dst_host() const { return node_host(dst_); }
  cluster::Gateway& gateway() { return *gateway_; }
  GameClient& client() { return *client_; }
  const cluster::DirectoryState& directory_state() const { return directory_state_; }
  const cluster::StoreState& store_state() const { return store_state_; }
  const cluster::PlayerRecord& record(std::uint64_t player) const { return store_state_.records.at(player - 1); }
  TimedTracer& tracer(HostId h) { return host(h).tracer; }
  const Recorder& recorder() const { return recorder_; }

  // Whether node `index` holds `player`: a real in a cell it simulates. (A cell frozen for a planned
  // migration keeps its reals until the target confirms, but no longer simulates them: in transit.)
  // Cross-checked with player_spawned(), which counts frozen cells too.
  int copies_on(std::uint32_t index, std::uint64_t player) {
    int n = 0;
    int active = 0;
    for (std::size_t ci = 0; ci < node(index).cells().size(); ++ci)
      for (const auto& e : node(index).cells()[ci].reals)
        if (e.id.value() == player) ++n, active += node(index).cell_active(ci);
    REQUIRE(n <= 1);
    REQUIRE(node(index).player_spawned(player) == (n == 1));
    return active;
  }
  int holders(std::uint64_t player) { return copies_on(1, player) + copies_on(2, player); }
  // The node index holding the player, 0 if none (requires at most one holder).
  std::uint32_t holder(std::uint64_t player) {
    REQUIRE(holders(player) <= 1);
    for (std::uint32_t i = 1; i <= 2; ++i)
      if (copies_on(i, player) == 1) return i;
    return 0;
  }
  const Entity& entity(std::uint32_t index, std::uint64_t player) {
    const Entity* found = nullptr;
    for (const auto& cell : node(index).cells())
      for (const auto& e : cell.reals)
        if (e.id.value() == player) found = &e;
    INFO("player " << player << " on node " << index);
    REQUIRE(found != nullptr);
    return *found;
  }
  int max_holders() const { return max_holders_; }

  // --- the network ---

  // The first `times` messages matching `match` (all of them if times < 0) meet `fate`.
  std::size_t rule(Pred match, Fate fate, int times = 1) {
    rules_.push_back(Rule{std::move(match), fate, times, 0});
    return rules_.size() - 1;
  }
  void stop(std::size_t rule) { rules_.at(rule).left = 0; }
  int hits(std::size_t rule) const { return rules_.at(rule).hits; }

  // Delivers every queued message, and whatever they cause, until the network is quiet.
  void pump_all() {
    for (int n = 0; !queue_.empty(); ++n) {
      REQUIRE(n < 200'000);  // a message storm: something loops
      Packet p = std::move(queue_.front());
      queue_.pop_front();
      deliver(std::move(p));
    }
  }
  // Held (and late) messages matching `pred`, delivered now in the order sent.
  std::size_t deliver_matching(const Pred& pred) {
    std::vector<Packet> out = take(held_, pred);
    for (auto& p : take(late_, pred)) out.push_back(std::move(p));
    std::sort(out.begin(), out.end(), [](const Packet& a, const Packet& b) { return a.id < b.id; });
    for (auto& p : out) queue_.push_back(std::move(p));
    pump_all();
    return out.size();
  }
  std::size_t release_held() { return deliver_matching(any_packet()); }
  // Held, late or queued messages matching `pred` are lost.
  std::size_t drop_matching(const Pred& pred) {
    std::size_t n = take(held_, pred).size() + take(late_, pred).size();
    std::deque<Packet> keep;
    for (auto& p : queue_) {
      if (pred(p)) {
        ++n;
      } else {
        keep.push_back(std::move(p));
      }
    }
    queue_ = std::move(keep);
    return n;
  }
  std::vector<Packet> held(const Pred& pred = any_packet()) const {
    std::vector<Packet> out;
    for (const auto* list : {&held_, &late_})
      for (const auto& p : *list)
        if (pred(p)) out.push_back(p);
    return out;
  }
  // Puts bytes on the wire as if `from` sent them (no rules apply).
  void inject(HostId from, HostId to, Bytes bytes) {
    queue_.push_back(Packet{++next_id_, from, to, std::move(bytes), now_});
    pump_all();
  }
  std::vector<Packet> sent(const Pred& pred) const { return filter(sent_, pred); }
  std::vector<Packet> delivered(const Pred& pred) const { return filter(delivered_, pred); }

  // --- time ---

  Time now() const { return now_; }
  // Fires timers in time order (ties: lower host id first), pumping the network after each, until
  // `end` or until `done()` holds. Returns whether `done` was reached.
  bool run_until(Time end, const std::function<bool()>& done = {}) {
    pump_all();
    if (done && done()) return true;
    for (;;) {
      Host* next = nullptr;
      Time at = Time::max();
      for (auto& h : hosts_)
        for (const auto& a : h->timers.armed())
          if (a.at < at) at = a.at, next = h.get();
      if (next == nullptr || at > end) break;
      advance_to(std::max(at, now_));
      const auto fired = next->timers.pop_next();
      next->process->on_timer(fired.tag);
      watch();
      pump_all();
      if (done && done()) return true;
    }
    advance_to(std::max(end, now_));
    return false;
  }
  bool run_for(Duration d, const std::function<bool()>& done = {}) { return run_until(now_ + d, done); }

  // The first cross-node handover `src` started (its hid), once there is one.
  std::uint64_t first_handover() {
    const auto starts = tracer(src_host()).all(TraceKind::handover_start);
    REQUIRE(!starts.empty());
    return starts.front().a;
  }
  bool installed(std::uint64_t hid) { return !tracer(dst_host()).with_a(TraceKind::handover_install, hid).empty(); }
  bool aborted(std::uint64_t hid) { return !tracer(src_host()).with_a(TraceKind::handover_abort, hid).empty(); }

 private:
  class NetTransport final : public Transport {
   public:
    NetTransport(Cluster& c, HostId self) : c_{c}, self_{self} {}
    HostId self() const override { return self_; }
    void send(HostId to, std::span<const std::uint8_t> bytes) override { c_.post(self_, to, bytes); }

   private:
    Cluster& c_;
    HostId self_;
  };
  struct Host {
    Host(Cluster& c, HostId id) : transport{c, id}, tracer{clock} {}
    Env env() { return Env{clock, timers, transport, tracer}; }
    ManualClock clock;
    FakeTimers timers;
    NetTransport transport;
    TimedTracer tracer;
    std::unique_ptr<Process> process;
    bool started{false};
  };

  Host& host(HostId h) { return *hosts_.at(h.value()); }
  void start_host(HostId h) {
    host(h).started = true;
    host(h).process->on_start();
  }
  void advance_to(Time t) {
    now_ = t;
    for (auto& h : hosts_) h->clock.advance_to(t);
  }
  void post(HostId from, HostId to, std::span<const std::uint8_t> bytes) {
    Packet p{++next_id_, from, to, Bytes(bytes.begin(), bytes.end()), now_};
    sent_.push_back(p);
    for (auto& r : rules_) {
      if (r.left == 0 || !r.match(p)) continue;
      ++r.hits;
      if (r.left > 0) --r.left;
      switch (r.fate) {
        case Fate::drop: return;
        case Fate::duplicate: queue_.push_back(p), queue_.push_back(std::move(p)); return;
        case Fate::hold: held_.push_back(std::move(p)); return;
        case Fate::late: late_.push_back(std::move(p)); return;
      }
    }
    queue_.push_back(std::move(p));
  }
  void deliver(Packet p) {
    p.at = now_;
    delivered_.push_back(p);
    if (p.to.value() < hosts_.size() && host(p.to).started) host(p.to).process->on_message(p.from, p.bytes);
    watch();
    if (p.noise()) return;
    // A late message goes right after the next message on its link.
    auto due = take(late_, [&](const Packet& q) { return q.from == p.from && q.to == p.to; });
    for (auto it = due.rbegin(); it != due.rend(); ++it) queue_.push_front(std::move(*it));
  }
  void watch() { max_holders_ = std::max(max_holders_, holders(kPlayer)); }
  static std::vector<Packet> take(std::vector<Packet>& from, const Pred& pred) {
    std::vector<Packet> out;
    std::vector<Packet> keep;
    for (auto& p : from) (pred(p) ? out : keep).push_back(std::move(p));
    from = std::move(keep);
    return out;
  }
  static std::vector<Packet> filter(const std::vector<Packet>& from, const Pred& pred) {
    std::vector<Packet> out;
    for (const auto& p : from)
      if (pred(p)) out.push_back(p);
    return out;
  }

  Options options_;
  MoveOnce driver_;
  Time now_{Time::zero()};
  Recorder recorder_;
  cluster::DirectoryState directory_state_;
  cluster::StoreState store_state_;
  std::uint32_t src_{0};
  std::uint32_t dst_{0};
  std::vector<std::unique_ptr<Host>> hosts_;
  WorldNode* nodes_[2]{};
  cluster::Gateway* gateway_{nullptr};
  GameClient* client_{nullptr};
  std::uint64_t next_id_{0};
  std::vector<Rule> rules_;
  std::deque<Packet> queue_;
  std::vector<Packet> held_;
  std::vector<Packet> late_;
  std::vector<Packet> sent_;
  std::vector<Packet> delivered_;
  int max_holders_{0};
};

}  // namespace shardsim::testing
