// Simulator hold/release (a clogged link): held messages wait inside the kernel, in send order, and
// on release are routed afresh at the release instant, ahead of anything sent over the link later.
// The contract is in sim/kernel/simulator.h.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/sim/probe.h"

namespace shardsim::sim {
namespace {

using testing::Log;
using testing::ms;
using testing::Probe;
using testing::World;

// Messages host `to` received, in order, as their text.
std::vector<std::string> received(const Log& log, const std::string& to) {
  std::vector<std::string> out;
  for (const std::string& line : log) {
    const auto at = line.find(" " + to + " msg '");
    if (at == std::string::npos) continue;
    const auto begin = at + to.size() + 7;
    out.push_back(line.substr(begin, line.find('\'', begin) - begin));
  }
  return out;
}

}  // namespace

TEST_CASE("simulator: a held link keeps its messages until release, then delivers them in order",
          "[sim][simulator][hold]") {
  World w;
  const HostId b = w.add(
      "b", [](Probe& p) { p.timer_in(Duration::millis(2), 1); },
      [](Probe& p, std::uint64_t) { p.send(HostId{1}, "back"); });
  const HostId a = w.add(
      "a",
      [&](Probe& p) {
        p.send(b, "early");  // in flight before the hold: arrives at 5 ms regardless
        p.timer_in(Duration::millis(2), 2);
        p.timer_in(Duration::millis(3), 3);
        p.timer_in(Duration::millis(4), 4);
      },
      [&](Probe& p, std::uint64_t tag) { p.send(b, fmt::format("m{}", tag)); });
  w.sim.at(ms(1), [&] { w.sim.hold_link(a, b); });
  w.sim.at(ms(10), [&] {
    CHECK(w.sim.held_messages(a, b) == 3);
    CHECK(w.sim.held_messages(b, a) == 0);
  });
  w.sim.at(ms(20), [&] { w.sim.release_link(a, b); });
  w.sim.start();
  w.sim.run_until(ms(100));

  // Only a -> b is clogged: b's reply at 2 ms reaches a at 7 ms. The held three are re-sent at the
  // release (20 ms) and arrive after one latency, in send order.
  REQUIRE(w.log == Log{"0 b start", "0 a start", "2000 b timer 1", "2000 a timer 2",
                       "3000 a timer 3", "4000 a timer 4", "5000 b msg 'early' from 1",
                       "7000 a msg 'back' from 0", "25000 b msg 'm2' from 1",
                       "25000 b msg 'm3' from 1", "25000 b msg 'm4' from 1"});
  CHECK(w.sim.held_messages(a, b) == 0);
  CHECK(w.sim.stats().sent == 5);  // a message is sent once, however long it was held
  CHECK(w.sim.stats().held == 3);
  CHECK(w.sim.stats().delivered == 5);
  // Hold, held messages and release are visible in the trace (a is host 1, b host 0): op 6 hold,
  // op 8 a message held (to b, 2 bytes), op 7 release (3 messages).
  CHECK(w.lines("fault") ==
        std::vector<std::string>{R"(1000 "host":"a","op":6,"arg1":0,"arg2":0)",
                                 R"(2000 "host":"a","op":8,"arg1":0,"arg2":2)",
                                 R"(3000 "host":"a","op":8,"arg1":0,"arg2":2)",
                                 R"(4000 "host":"a","op":8,"arg1":0,"arg2":2)",
                                 R"(20000 "host":"a","op":7,"arg1":0,"arg2":3)"});
}

TEST_CASE("simulator: released messages stay ahead of everything sent over the link afterwards",
          "[sim][simulator][hold]") {
  // Uniform 1-9 ms latency: only the network's FIFO clamp keeps order. 40 messages wait on the
  // clogged link; 40 more are sent at the release instant (after it) and 40 over the next 40 ms.
  net::LinkConfig link;
  link.latency =
      net::LatencySpec{net::LatencyKind::uniform, Duration::millis(1), Duration::millis(9)};
  World w{7, link};
  const HostId b = w.add("b");
  int next = 0;
  const HostId a = w.add(
      "a", [](Probe& p) { p.timer_in(Duration::millis(1), 0); },
      [&](Probe& p, std::uint64_t) {
        if (next >= 120) return;
        p.send(b, fmt::format("{}", next++));
        if (next < 40 || next >= 80) p.timer_in(Duration::millis(1), 0);
      });
  w.sim.hold_link(a, b);
  w.sim.at(ms(60), [&] {
    w.sim.release_link(a, b);
    CHECK(w.sim.held_messages(a, b) == 0);
    while (next < 80) w.probes[1]->send(b, fmt::format("{}", next++));
    w.probes[1]->timer_in(Duration::millis(1), 0);
  });
  w.sim.start();
  w.sim.run_until(ms(500));

  std::vector<std::string> expected;
  for (int i = 0; i < 120; ++i) expected.push_back(fmt::format("{}", i));
  REQUIRE(received(w.log, "b") == expected);
  CHECK(w.sim.stats().held == 40);
}

TEST_CASE("simulator: a held message meets the ordinary rules when released",
          "[sim][simulator][hold]") {
  World w;
  const HostId b = w.add("b");
  const HostId a = w.add("a", [&](Probe& p) { p.send(b, "held"); });
  w.sim.hold_link(a, b);

  SECTION("receiver down at arrival: dropped there") {
    w.sim.at(ms(10), [&] { w.sim.crash(b); });
    w.sim.at(ms(20), [&] { w.sim.release_link(a, b); });
    w.sim.at(ms(30), [&] { w.sim.restart(b); });  // restarts after the arrival at 25 ms
    w.sim.start();
    w.sim.run_until(ms(100));
    CHECK(received(w.log, "b").empty());
    CHECK(w.sim.stats().dropped == 1);
    CHECK(w.lines("drop") ==
          std::vector<std::string>{R"(25000 "host":"b","peer":"a","bytes":4,"host_down":1)"});
  }
  SECTION("receiver crashed and restarted before the release: the new incarnation gets it") {
    w.sim.at(ms(10), [&] { w.sim.crash(b); });
    w.sim.at(ms(15), [&] { w.sim.restart(b); });
    w.sim.at(ms(20), [&] { w.sim.release_link(a, b); });
    w.sim.start();
    w.sim.run_until(ms(100));
    CHECK(w.log == Log{"0 b start", "0 a start", "15000 b start", "25000 b msg 'held' from 1"});
  }
  SECTION("sender crashed meanwhile: the message was already sent and still arrives") {
    w.sim.at(ms(10), [&] { w.sim.crash(a); });
    w.sim.at(ms(20), [&] { w.sim.release_link(a, b); });
    w.sim.start();
    w.sim.run_until(ms(100));
    CHECK(received(w.log, "b") == std::vector<std::string>{"held"});
  }
  SECTION("link partitioned at the release: the fresh fate drops it") {
    w.sim.at(ms(10), [&] { w.network.partition({{a}, {b}}); });
    w.sim.at(ms(20), [&] { w.sim.release_link(a, b); });
    w.sim.start();
    w.sim.run_until(ms(100));
    CHECK(received(w.log, "b").empty());
    CHECK(w.sim.stats().dropped == 1);
    CHECK(w.lines("drop") ==
          std::vector<std::string>{R"(20000 "host":"a","peer":"b","bytes":4,"host_down":0)"});
  }
  SECTION("never released: never delivered") {
    w.sim.start();
    w.sim.run_until(ms(1000));
    CHECK(received(w.log, "b").empty());
    CHECK(w.sim.held_messages(a, b) == 1);
  }
}

TEST_CASE("simulator: a clogged link holds at most kHeldPerLinkMax messages, then tail-drops",
          "[sim][simulator][hold]") {
  World w;
  const HostId b = w.add("b");
  const HostId a = w.add("a", [&](Probe& p) {
    for (std::size_t i = 0; i < Simulator::kHeldPerLinkMax + 3; ++i) p.send(b, "x");
  });
  w.sim.hold_link(a, b);
  w.sim.start();
  CHECK(w.sim.held_messages(a, b) == Simulator::kHeldPerLinkMax);
  CHECK(w.sim.stats().held_overflow == 3);
  CHECK(w.sim.stats().dropped == 3);
  w.sim.release_link(a, b);
  w.sim.run_until(ms(100));
  CHECK(w.sim.stats().delivered == Simulator::kHeldPerLinkMax);
}

TEST_CASE("simulator: runs with hold and release are deterministic", "[sim][simulator][hold]") {
  // Lognormal latency with loss and duplicates; the link between two chatty hosts is clogged and
  // released repeatedly, in both directions.
  const auto run = [](std::uint64_t seed) {
    net::LinkConfig link;
    link.latency =
        net::LatencySpec{net::LatencyKind::lognormal, Duration::millis(2), Duration::millis(20)};
    link.loss_ppm = 50'000;
    link.duplicate_ppm = 50'000;
    World w{seed, link};
    const auto chat = [](HostId peer) {
      return [peer](Probe& p, std::uint64_t tag) {
        p.send(peer, fmt::format("{}", tag));
        p.timer_in(Duration::micros(700), tag + 1);
      };
    };
    const HostId b = w.add(
        "b", [](Probe& p) { p.timer_in(Duration::millis(1), 0); }, chat(HostId{1}));
    const HostId a = w.add(
        "a", [](Probe& p) { p.timer_in(Duration::millis(1), 0); }, chat(HostId{0}));
    for (int i = 0; i < 10; ++i) {
      w.sim.at(ms(20 * i + 5), [&w, a, b, i] { w.sim.hold_link(i % 2 ? a : b, i % 2 ? b : a); });
      w.sim.at(ms(20 * i + 15),
               [&w, a, b, i] { w.sim.release_link(i % 2 ? a : b, i % 2 ? b : a); });
    }
    w.sim.start();
    w.sim.run_until(ms(300));
    CHECK(w.sim.stats().held > 0);
    return std::pair{w.trace.digest(), w.log};
  };
  const auto first = run(11);
  const auto again = run(11);
  CHECK(first.first == again.first);
  CHECK(first.second == again.second);
  CHECK(run(12).first != first.first);
}

}  // namespace shardsim::sim
