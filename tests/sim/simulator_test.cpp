// Simulator (the DES kernel): timers, FIFO ties, cancellation, latency, crash/restart,
// pause/resume, per-host clocks, run_until bounds and stats. Hosts run small Probe processes that
// log what happens to them, with the virtual time, into one shared log; each test compares that log
// with the exact sequence the kernel's contract (sim/kernel/simulator.h, engine/runtime/env.h)
// promises.
#include "sim/kernel/simulator.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/core/rng.h"
#include "net_model/network.h"
#include "sim/trace/trace.h"

namespace shardsim::sim {
namespace {

constexpr Duration kLatency = Duration::millis(5);

Time ms(std::int64_t v) { return Time::zero() + Duration::millis(v); }
Time us(std::int64_t v) { return Time::from_micros(v); }

net::LinkConfig constant_link(Duration latency) {
  net::LinkConfig cfg;
  cfg.latency = net::LatencySpec{net::LatencyKind::constant, latency, Duration::zero()};
  return cfg;
}

// A test process: logs "<virtual us> <host> <what>" for every callback and lets the test script
// what it does on start and on each timer. `messages` is its volatile state (lost on crash).
class Probe final : public Process {
 public:
  using Hook = std::function<void(Probe&)>;
  using TimerHook = std::function<void(Probe&, std::uint64_t)>;

  Probe(Env& env, const Simulator& sim, std::vector<std::string>& log, std::string name,
        Hook on_start, TimerHook on_timer)
      : env_{env},
        sim_{sim},
        log_{log},
        name_{std::move(name)},
        start_{std::move(on_start)},
        timer_{std::move(on_timer)} {}

  void on_start() override {
    note("start");
    if (start_) start_(*this);
  }
  void on_message(HostId from, std::span<const std::uint8_t> bytes) override {
    ++messages;
    note(fmt::format("msg '{}' from {} (#{})",
                     std::string_view{reinterpret_cast<const char*>(bytes.data()), bytes.size()},
                     from.value(), messages));
  }
  void on_timer(std::uint64_t tag) override {
    note(fmt::format("timer {}", tag));
    if (timer_) timer_(*this, tag);
  }

  TimerId timer_at(Time local, std::uint64_t tag) { return env_.timers.set_timer(local, tag); }
  TimerId timer_in(Duration d, std::uint64_t tag) { return timer_at(env_.clock.now() + d, tag); }
  void cancel(TimerId id) { env_.timers.cancel(id); }
  void send(HostId to, std::string_view text) {
    env_.transport.send(to,
                        std::span{reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  Time local_now() const { return env_.clock.now(); }
  void note(const std::string& what) {
    log_.push_back(fmt::format("{} {} {}", sim_.now().us(), name_, what));
  }

  int messages{0};

 private:
  Env env_;
  const Simulator& sim_;
  std::vector<std::string>& log_;
  std::string name_;
  Hook start_;
  TimerHook timer_;
};

// A simulator with a constant-latency, loss-free network and a shared log.
struct World {
  explicit World(net::LinkConfig link = constant_link(kLatency))
      : network{42, link}, sim{42, network, trace} {}

  HostId add(const std::string& name, Probe::Hook on_start = {}, Probe::TimerHook on_timer = {}) {
    const auto index = probes.size();
    probes.push_back(nullptr);
    return sim.add_host(name, [this, name, index, on_start, on_timer](Env& env) {
      auto p = std::make_unique<Probe>(env, sim, log, name, on_start, on_timer);
      probes[index] = p.get();
      return p;
    });
  }

  Trace trace;
  net::NetworkModel network;
  Simulator sim;
  std::vector<std::string> log;
  std::vector<Probe*> probes;  // the latest incarnation of each host's process
};

using Log = std::vector<std::string>;

}  // namespace

TEST_CASE("simulator: timers fire at their local time, earliest first", "[sim][simulator]") {
  World w;
  w.add("a", [](Probe& p) {
    p.timer_at(ms(30), 3);
    p.timer_at(ms(10), 1);
    p.timer_at(ms(20), 2);
  });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "20000 a timer 2", "30000 a timer 3"});
}

TEST_CASE("simulator: a timer set in the past fires at the current instant", "[sim][simulator]") {
  World w;
  w.add(
      "a", [](Probe& p) { p.timer_in(Duration::millis(10), 1); },
      [](Probe& p, std::uint64_t tag) {
        if (tag == 1) p.timer_at(ms(2), 2);  // already 8 ms in the past
      });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "10000 a timer 2"});
}

TEST_CASE("simulator: events due at the same time run in scheduling order", "[sim][simulator]") {
  World w;
  // Timers at one instant, set in a scrambled tag order: they fire in the order they were set.
  w.add("a", [](Probe& p) {
    for (std::uint64_t tag : {5, 3, 9, 1, 7}) p.timer_at(ms(10), tag);
  });
  // Two senders whose messages reach c at the same instant: delivered in send order (b was started
  // first, so its message was sent first), interleaved with simulator actions by scheduling order.
  const HostId c = w.add("c");
  w.add("b", [&](Probe& p) { p.send(c, "from b"); });
  w.add("d", [&](Probe& p) { p.send(c, "from d"); });
  w.sim.at(ms(5), [&] { w.log.push_back("5000 action 1"); });
  w.sim.at(ms(5), [&] { w.log.push_back("5000 action 2"); });
  w.sim.start();
  w.sim.at(ms(5), [&] { w.log.push_back("5000 action 3"); });  // scheduled after the sends
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 a start", "0 c start", "0 b start", "0 d start", "5000 action 1",
                       "5000 action 2", "5000 c msg 'from b' from 2 (#1)",
                       "5000 c msg 'from d' from 3 (#2)", "5000 action 3", "10000 a timer 5",
                       "10000 a timer 3", "10000 a timer 9", "10000 a timer 1", "10000 a timer 7"});
}

TEST_CASE("simulator: a cancelled timer never fires", "[sim][simulator]") {
  World w;
  TimerId doomed;
  w.add(
      "a",
      [&](Probe& p) {
        p.timer_at(ms(10), 1);
        doomed = p.timer_at(ms(20), 2);
        p.timer_at(ms(30), 3);
      },
      [&](Probe& p, std::uint64_t tag) {
        if (tag == 1) p.cancel(doomed);
      });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "30000 a timer 3"});
}

TEST_CASE("simulator: a stale timer id cannot cancel the timer that reused its slot",
          "[sim][simulator]") {
  World w;
  TimerId first;
  w.add(
      "a", [&](Probe& p) { first = p.timer_at(ms(10), 1); },
      [&](Probe& p, std::uint64_t tag) {
        if (tag != 1) return;
        // `first` has fired; its slot is free and the next timer may take it.
        p.timer_at(ms(20), 2);
        p.cancel(first);      // a late cancel of a fired timer: must be a no-op
        p.cancel(TimerId{});  // "no timer": a no-op too
      });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "20000 a timer 2"});
}

TEST_CASE("simulator: cancelling and re-arming timers forever keeps the timer table bounded",
          "[sim][simulator]") {
  // A GameClient cancels its retransmit timer whenever the channel drains and re-arms it on the
  // next send: a long run does this millions of times. A cancelled timer's slot must be recycled
  // when its event pops, or the table grows without bound. Slot indices are the high half of a
  // TimerId.
  World w;
  std::uint64_t max_slot = 0;
  TimerId pending;
  w.add(
      "a", [&](Probe& p) { p.timer_in(Duration::millis(1), 0); },
      [&](Probe& p, std::uint64_t tag) {
        if (tag != 0) return;
        p.cancel(pending);  // cancels the previous round's timer before it is due
        pending = p.timer_in(Duration::millis(5), 1);
        max_slot = std::max(max_slot, pending.value >> 32);
        p.timer_in(Duration::millis(1), 0);
      });
  w.sim.start();
  w.sim.run_until(ms(2000));
  REQUIRE(w.sim.stats().timers == 2000);  // only the tag-0 ticks ran; every tag-1 was cancelled
  REQUIRE(max_slot <= 16);
}

TEST_CASE("simulator: messages arrive after the configured latency, bytes intact",
          "[sim][simulator]") {
  World w;
  const HostId b = w.add("b");
  w.add(
      "a",
      [&](Probe& p) {
        p.send(b, "hello");
        p.timer_at(ms(12), 1);
      },
      [&](Probe& p, std::uint64_t) { p.send(b, "xx!"); });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 b start", "0 a start", "5000 b msg 'hello' from 1 (#1)",
                       "12000 a timer 1", "17000 b msg 'xx!' from 1 (#2)"});
}

TEST_CASE("simulator: a crash loses timers, state and incoming messages; restart starts afresh",
          "[sim][simulator]") {
  World w;
  const HostId b = w.add("b", [](Probe& p) { p.timer_in(Duration::millis(50), 7); });
  w.add(
      "a",
      [&](Probe& p) {
        p.send(b, "before");  // arrives at 5 ms, before the crash
        p.timer_at(ms(25), 1);
        p.timer_at(ms(45), 2);
      },
      [&](Probe& p, std::uint64_t tag) {
        p.send(b, tag == 1 ? "while down" : "after restart");  // arrive at 30 ms and 50 ms
      });
  w.sim.at(ms(20), [&] { w.sim.crash(b); });
  w.sim.at(ms(22), [&] {
    REQUIRE_FALSE(w.sim.is_up(b));
    REQUIRE(w.sim.process(b) == nullptr);
  });
  w.sim.at(ms(40), [&] { w.sim.restart(b); });
  w.sim.start();
  w.sim.run_until(ms(200));

  // b's first incarnation set timer 7 for 50 ms: it died with the crash. The restarted process set
  // its own timer 7 for 40 + 50 = 90 ms. The message sent while b was down was dropped; the one
  // sent after the restart reaches a process whose count starts again at 1.
  REQUIRE(w.log == Log{"0 b start", "0 a start", "5000 b msg 'before' from 1 (#1)",
                       "25000 a timer 1", "40000 b start", "45000 a timer 2",
                       "50000 b msg 'after restart' from 1 (#1)", "90000 b timer 7"});
  REQUIRE(w.sim.is_up(b));
  REQUIRE(w.sim.process(b) == w.probes[0]);
  REQUIRE(w.sim.stats().dropped == 1);
  REQUIRE(w.sim.stats().delivered == 2);
}

TEST_CASE("simulator: a crash while paused discards the queued backlog", "[sim][simulator]") {
  World w;
  const HostId b = w.add("b", [](Probe& p) { p.timer_at(ms(15), 1); });
  w.add("a", [&](Probe& p) { p.send(b, "queued"); });  // due at 5 ms, while b is paused
  w.sim.at(ms(1), [&] { w.sim.pause(b); });
  w.sim.at(ms(20), [&] { w.sim.crash(b); });
  w.sim.at(ms(30), [&] { w.sim.restart(b); });
  w.sim.start();
  w.sim.run_until(ms(100));
  // The restarted process re-arms timer 1 for 15 ms, already past: it fires at once.
  REQUIRE(w.log == Log{"0 b start", "0 a start", "30000 b start", "30000 b timer 1"});
  REQUIRE(w.sim.stats().delivered == 0);
}

TEST_CASE("simulator: a paused host defers timers and deliveries and runs them in order on resume",
          "[sim][simulator]") {
  World w;
  const HostId b = w.add("b", [](Probe& p) {
    p.timer_at(ms(20), 1);
    p.timer_at(ms(30), 2);
  });
  w.add(
      "a",
      [&](Probe& p) {
        p.timer_at(ms(10), 1);
        p.timer_at(ms(20), 2);
      },
      [&](Probe& p, std::uint64_t tag) {
        p.send(b, tag == 1 ? "m15" : "m25");  // arrive at 15 ms and 25 ms
      });
  w.sim.at(ms(12), [&] { w.sim.pause(b); });
  w.sim.at(ms(13), [&] { REQUIRE(w.sim.is_paused(b)); });
  w.sim.at(ms(40), [&] { w.sim.resume(b); });
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 b start", "0 a start", "10000 a timer 1", "20000 a timer 2",
                       "40000 b msg 'm15' from 1 (#1)", "40000 b timer 1",
                       "40000 b msg 'm25' from 1 (#2)", "40000 b timer 2"});
  REQUIRE_FALSE(w.sim.is_paused(b));
}

TEST_CASE("simulator: on resume the backlog runs before events that fall due at the resume instant",
          "[sim][simulator]") {
  // b wakes at 40 ms with a backlog from 15 ms; a timer of b's due exactly at 40 ms was set after
  // the resume action was scheduled. The host acts on its events in the order they fell due, so the
  // backlog (15 ms) comes first.
  World w;
  const HostId b = w.add("b", [](Probe& p) { p.timer_at(ms(40), 9); });
  w.add(
      "a", [&](Probe& p) { p.timer_at(ms(10), 1); },
      [&](Probe& p, std::uint64_t) { p.send(b, "m15"); });
  w.sim.at(ms(12), [&] { w.sim.pause(b); });
  w.sim.at(ms(40), [&] { w.sim.resume(b); });  // scheduled before b's start sets timer 9
  w.sim.start();
  w.sim.run_until(ms(100));
  REQUIRE(w.log == Log{"0 b start", "0 a start", "10000 a timer 1", "40000 b msg 'm15' from 1 (#1)",
                       "40000 b timer 9"});
}

TEST_CASE("simulator: a host's clock is offset and drifting; timers use local time",
          "[sim][simulator]") {
  World w;
  Time local_at_fire;
  w.add("a", {}, [&](Probe& p, std::uint64_t) { local_at_fire = p.local_now(); });
  const HostId a{0};
  w.sim.set_clock(a, Duration::seconds(1), 0);
  w.sim.start();

  SECTION("offset only") {
    REQUIRE(w.probes[0]->local_now() == ms(1000));
    w.probes[0]->timer_at(ms(1010), 1);
    w.sim.run_until(ms(100));
    REQUIRE(w.log == Log{"0 a start", "10000 a timer 1"});
    REQUIRE(local_at_fire == ms(1010));
  }
  SECTION("offset and drift: +1000 ppm gains 1 ms per second") {
    w.sim.set_clock(a, Duration::seconds(1), 1000);
    w.sim.run_until(ms(2000));
    REQUIRE(w.probes[0]->local_now() == ms(1000 + 2000 + 2));
    // Local 3.5 s is reached at virtual v with v + 1 s + v/1000 = 3.5 s: v = 2.5 s / 1.001.
    w.probes[0]->timer_at(ms(3500), 1);
    w.sim.run_until(ms(5000));
    REQUIRE(w.log.size() == 2);
    REQUIRE(w.log[1] == "2497503 a timer 1");  // ceil(2'500'000 * 1e6 / 1'001'000)
    REQUIRE(local_at_fire >= ms(3500));
    REQUIRE(local_at_fire < ms(3500) + Duration::micros(2));
  }
}

TEST_CASE("simulator: a timer fires at the first instant its host's clock reads its deadline",
          "[sim][simulator]") {
  // For many (offset, drift, deadline) triples: when the timer fires, the host's clock reads >= the
  // deadline, and one microsecond earlier it read less. Both are checked against the definition
  // local(v) = v + offset + floor(v * drift / 1e6) and against the host's own clock, sampled through
  // its Env by a simulator action one microsecond before the firing in a replay of the same run.
  const auto reference_local = [](Time v, Duration offset, std::int64_t drift) {
    const std::int64_t skew = v.us() * drift;  // |v| < 2^24 us here, |drift| < 2^18: no overflow
    const std::int64_t floor = skew / 1'000'000 - (skew % 1'000'000 < 0 ? 1 : 0);
    return v + offset + Duration::micros(floor);
  };
  Rng rng{2024};
  for (int round = 0; round < 300; ++round) {
    const Duration offset = Duration::micros(rng.between(-500'000, 500'000));
    const std::int64_t drift = rng.between(-200'000, 200'000);
    World w;
    Time fired_local;
    Time fired_virtual;
    w.add("a", {}, [&](Probe& p, std::uint64_t) {
      fired_local = p.local_now();
      fired_virtual = w.sim.now();
    });
    const HostId a{0};
    w.sim.set_clock(a, offset, drift);
    w.sim.start();
    w.sim.run_until(us(rng.between(0, 1'000'000)));
    const Time deadline = w.probes[0]->local_now() + Duration::micros(rng.between(1, 3'000'000));
    w.probes[0]->timer_at(deadline, 1);
    w.sim.run_until(ms(10'000));
    INFO("round " << round << " offset " << offset.us() << "us drift " << drift << "ppm deadline "
                  << deadline.us() << "us fired at virtual " << fired_virtual.us() << "us local "
                  << fired_local.us() << "us");
    REQUIRE(w.sim.stats().timers == 1);
    REQUIRE(fired_local == reference_local(fired_virtual, offset, drift));
    REQUIRE(fired_local >= deadline);
    REQUIRE(reference_local(fired_virtual - Duration::micros(1), offset, drift) < deadline);

    World again;
    Time local_before;
    again.add("a");
    again.sim.set_clock(a, offset, drift);
    again.sim.start();
    again.sim.at(fired_virtual - Duration::micros(1),
                 [&] { local_before = again.probes[0]->local_now(); });
    again.sim.run_until(fired_virtual);
    REQUIRE(local_before < deadline);
  }
}

TEST_CASE("simulator: a clock set back while a timer is pending does not make it fire early",
          "[sim][simulator]") {
  // engine/runtime/env.h: a timer fires "when the host's local clock reaches `at`". A host
  // whose clock is stepped back by 30 ms at 10 ms must not see its 50 ms timer before its clock
  // reads 50 ms, which is at virtual 80 ms.
  World w;
  Time local_at_fire;
  w.add(
      "a", [](Probe& p) { p.timer_at(ms(50), 1); },
      [&](Probe& p, std::uint64_t) { local_at_fire = p.local_now(); });
  const HostId a{0};
  w.sim.at(ms(10), [&] { w.sim.set_clock(a, Duration::millis(-30), 0); });
  w.sim.start();
  w.sim.run_until(ms(200));
  REQUIRE(w.log == Log{"0 a start", "80000 a timer 1"});
  REQUIRE(local_at_fire == ms(50));
}

TEST_CASE(
    "simulator: a clock set forward while a timer is pending fires it when the clock reads it",
    "[sim][simulator]") {
  // The Env contract: a timer fires when the host's local clock reaches `at`. A forward jump must
  // not leave a pending timer to fire late (set_clock adds an earlier event for it).
  World w;
  Time local_at_fire;
  w.add(
      "a", [](Probe& p) { p.timer_at(ms(50), 1); },
      [&](Probe& p, std::uint64_t) { local_at_fire = p.local_now(); });
  const HostId a{0};
  w.sim.at(ms(10), [&] { w.sim.set_clock(a, Duration::millis(30), 0); });
  w.sim.start();
  w.sim.run_until(ms(200));
  REQUIRE(w.log == Log{"0 a start", "20000 a timer 1"});
  REQUIRE(local_at_fire == ms(50));
}

TEST_CASE("simulator: run_until stops at its bound and leaves now() there", "[sim][simulator]") {
  World w;
  w.add("a", [](Probe& p) {
    p.timer_at(ms(10), 1);
    p.timer_at(ms(20), 2);
    p.timer_at(ms(30), 3);
  });
  w.sim.start();
  REQUIRE(w.sim.pending_events() == 3);

  REQUIRE(w.sim.run_until(ms(20)) == 2);  // an event exactly at the bound runs
  REQUIRE(w.sim.now() == ms(20));
  REQUIRE(w.sim.pending_events() == 1);

  REQUIRE(w.sim.run_until(ms(25)) == 0);
  REQUIRE(w.sim.now() == ms(25));
  REQUIRE(w.probes[0]->local_now() == ms(25));

  REQUIRE(w.sim.run_until(ms(1000)) == 1);
  REQUIRE(w.sim.now() == ms(1000));
  REQUIRE(w.sim.pending_events() == 0);
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "20000 a timer 2", "30000 a timer 3"});
}

TEST_CASE("simulator: stop() ends run_until after the current event", "[sim][simulator]") {
  World w;
  w.add("a", [](Probe& p) {
    p.timer_at(ms(10), 1);
    p.timer_at(ms(20), 2);
  });
  w.sim.at(ms(10), [&] { w.sim.stop(); });  // scheduled before the timers: runs first at 10 ms
  w.sim.start();
  REQUIRE(w.sim.run_until(ms(100)) == 1);
  REQUIRE(w.sim.now() == ms(10));  // not advanced to the bound
  REQUIRE(w.log == Log{"0 a start"});
  REQUIRE(w.sim.run_until(ms(100)) == 2);  // a fresh run_until carries on
  REQUIRE(w.log == Log{"0 a start", "10000 a timer 1", "20000 a timer 2"});
}

TEST_CASE("simulator: an action may schedule further actions", "[sim][simulator]") {
  // A scenario fault schedules its own heal. at() grows the action table while an action runs; the
  // running action must not live in that table's storage (the lambda below is small enough to be
  // stored inside its std::function, so a reallocation would pull it from under itself: ASan).
  struct Fault {
    World w;
    std::string name{"partition"};
    int heals{0};
  } f;
  f.w.add("a");
  f.w.sim.at(ms(10), [&f] {
    for (int i = 0; i < 100; ++i) f.w.sim.at(ms(20 + i), [&f] { ++f.heals; });
    f.w.log.push_back(f.name +
                      " scheduled its heals");  // reads its capture after at() grew the table
  });
  f.w.sim.start();
  f.w.sim.run_until(ms(1000));
  REQUIRE(f.heals == 100);
  REQUIRE(f.w.log == Log{"0 a start", "partition scheduled its heals"});
}

TEST_CASE("simulator: stats count sends, bytes, deliveries, drops, duplicates and timers",
          "[sim][simulator]") {
  SECTION("clean network, one host crashed") {
    World w;
    const HostId b = w.add("b");
    const HostId c = w.add("c");
    w.add("a", [&](Probe& p) {
      p.send(b, "1234");
      p.send(b, "56");
      p.send(c, "789");  // c is down when it arrives
      p.timer_at(ms(1), 1);
      p.timer_at(ms(2), 2);
    });
    w.sim.at(ms(1), [&] { w.sim.crash(c); });
    w.sim.start();
    w.sim.run_until(ms(100));
    const auto& s = w.sim.stats();
    CHECK(s.sent == 3);
    CHECK(s.bytes == 9);
    CHECK(s.delivered == 2);
    CHECK(s.dropped == 1);
    CHECK(s.duplicated == 0);
    CHECK(s.timers == 2);
    // 2 deliveries + 2 timers + 1 action; the dropped delivery does not count as executed.
    CHECK(w.sim.events_executed() == 5);
  }
  SECTION("lossy network drops everything, duplicating network doubles everything") {
    // Four messages from a to b over `link`; returns the world after 100 ms.
    const auto four_sends = [](const net::LinkConfig& link) {
      auto w = std::make_unique<World>(link);
      const HostId b = w->add("b");
      w->add("a", [b](Probe& p) {
        for (int i = 0; i < 4; ++i) p.send(b, "x");
      });
      w->sim.start();
      w->sim.run_until(ms(100));
      return w;
    };
    net::LinkConfig lossy = constant_link(kLatency);
    lossy.loss_ppm = 1'000'000;
    const auto l = four_sends(lossy);
    CHECK(l->sim.stats().sent == 4);
    CHECK(l->sim.stats().dropped == 4);
    CHECK(l->sim.stats().delivered == 0);

    net::LinkConfig dup = constant_link(kLatency);
    dup.duplicate_ppm = 1'000'000;
    const auto d = four_sends(dup);
    CHECK(d->sim.stats().sent == 4);
    CHECK(d->sim.stats().duplicated == 4);
    CHECK(d->sim.stats().delivered == 8);
    CHECK(d->probes[0]->messages == 8);
  }
}

TEST_CASE("simulator: every send, delivery, drop, timer and fault reaches the trace",
          "[sim][simulator]") {
  auto run = [](std::FILE* out) {
    World w;
    w.trace.attach_jsonl(out, [&](HostId h) { return w.sim.host_name(h); });
    const HostId b = w.add("b", [](Probe& p) { p.timer_at(ms(1), 1); });
    w.add(
        "a",
        [&](Probe& p) {
          p.send(b, "hi");
          p.timer_at(ms(20), 2);
        },
        [&](Probe& p, std::uint64_t) { p.send(b, "late"); });
    w.sim.at(ms(10), [&] { w.sim.crash(b); });
    w.sim.start();
    w.sim.run_until(ms(100));
    return std::pair{w.trace.digest(), w.trace.records()};
  };
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  const auto [digest, records] = run(out);
  std::rewind(out);
  std::vector<std::string> kinds;
  char line[512];
  while (std::fgets(line, sizeof line, out) != nullptr) {
    const std::string s{line};
    const auto k = s.find("\"kind\":\"") + 8;
    kinds.push_back(s.substr(k, s.find('"', k) - k) + "@" + s.substr(s.find("\"host\":\"") + 8, 1));
  }
  std::fclose(out);
  REQUIRE(kinds == std::vector<std::string>{"host_start@b", "host_start@a", "send@a", "timer@b",
                                            "deliver@b", "fault@b", "timer@a", "send@a", "drop@b"});
  REQUIRE(records == kinds.size());
  // The same run again gives the same digest; the JSONL sink does not affect it.
  std::FILE* sink = std::tmpfile();
  REQUIRE(run(sink).first == digest);
  std::fclose(sink);
}

}  // namespace shardsim::sim
