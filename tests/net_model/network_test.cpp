// Tests of NetworkModel: loss and duplication rates, FIFO and reordering, partitions (symmetric,
// one-way, isolate, overlapping, heal), hold/release, per-link overrides, stream independence and
// determinism. Rates are checked over 100k messages with a fixed seed.
#include "net_model/network.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace shardsim::net {
namespace {

constexpr std::uint64_t kSeed = 77;
constexpr int kMessages = 100'000;

const HostId h1{1};
const HostId h2{2};
const HostId h3{3};
const HostId h4{4};
const HostId h5{5};

LinkConfig uniform_link() {
  LinkConfig cfg;
  cfg.latency = LatencySpec{LatencyKind::uniform, Duration::millis(1), Duration::millis(5)};
  return cfg;
}

LinkConfig lognormal_link() {
  LinkConfig cfg;
  cfg.latency = LatencySpec{LatencyKind::lognormal, Duration::millis(2), Duration::millis(20)};
  return cfg;
}

Time at_us(std::int64_t us) { return Time::from_micros(us); }

bool delivers(NetworkModel& net, HostId from, HostId to) {
  return net.decide(from, to, at_us(0)).kind == FateKind::deliver;
}

DropReason drop_reason(NetworkModel& net, HostId from, HostId to) {
  const Fate f = net.decide(from, to, at_us(0));
  return f.kind == FateKind::drop ? f.reason : DropReason::none;
}

void require_stats_add_up(const NetworkModel& net) {
  const auto s = net.stats();
  REQUIRE(s.sent == s.delivered + s.dropped_loss + s.dropped_partition + s.held);
}

// n messages h1 -> h2, one every gap_us starting at 0.
std::vector<Fate> run(NetworkModel& net, int n, std::int64_t gap_us) {
  std::vector<Fate> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(net.decide(h1, h2, at_us(i * gap_us)));
  return out;
}

// Number of adjacent pairs (in send order) of delivered messages that arrive out of order.
int inversions(const std::vector<Fate>& fates) {
  int count = 0;
  Time last = Time::zero();
  for (const Fate& f : fates) {
    if (f.kind != FateKind::deliver) continue;
    if (f.deliver_at < last) ++count;
    last = f.deliver_at;
  }
  return count;
}

}  // namespace

TEST_CASE("network: loss 1% drops about 1% of 100k messages", "[net_model][network]") {
  LinkConfig cfg = uniform_link();
  cfg.loss_ppm = 10'000;
  NetworkModel net{kSeed, cfg};
  int lost = 0;
  for (const Fate& f : run(net, kMessages, 10)) {
    if (f.kind == FateKind::drop) {
      REQUIRE(f.reason == DropReason::loss);
      ++lost;
    }
  }
  // Expected 1000, binomial sd ~31.5: +-10% is more than 3 sd.
  CHECK(lost >= 900);
  CHECK(lost <= 1100);
  CHECK(net.stats().dropped_loss == static_cast<std::uint64_t>(lost));
  CHECK(net.stats().delivered == static_cast<std::uint64_t>(kMessages - lost));
  require_stats_add_up(net);
}

TEST_CASE("network: duplicate 0.5% duplicates about 0.5% of 100k messages, later than the original",
          "[net_model][network]") {
  LinkConfig cfg = uniform_link();
  cfg.duplicate_ppm = 5'000;
  NetworkModel net{kSeed, cfg};
  int duplicated = 0;
  for (const Fate& f : run(net, kMessages, 10)) {
    REQUIRE(f.kind == FateKind::deliver);
    if (!f.duplicate) continue;
    ++duplicated;
    // The copy comes one more latency sample (>= 1ms) after the original.
    REQUIRE(f.duplicate_at - f.deliver_at >= Duration::millis(1));
    REQUIRE(f.duplicate_at - f.deliver_at <= Duration::millis(5));
  }
  // Expected 500, sd ~22: +-15% is more than 3 sd.
  CHECK(duplicated >= 425);
  CHECK(duplicated <= 575);
  CHECK(net.stats().duplicated == static_cast<std::uint64_t>(duplicated));
}

TEST_CASE("network: without reordering a directed link is FIFO", "[net_model][network]") {
  // Lognormal latency (2ms median, 20ms p99) with a message every 100us: unclamped, later messages
  // would overtake earlier ones all the time.
  NetworkModel fifo{kSeed, lognormal_link()};
  const auto fates = run(fifo, kMessages, 100);
  CHECK(inversions(fates) == 0);
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE(fates[static_cast<std::size_t>(i)].deliver_at >= at_us(i * 100) + Duration::micros(1));
  }
  CHECK(fifo.stats().reordered == 0);

  // The same traffic with every message exempt from the clamp does invert: the check above can
  // fail.
  LinkConfig always = lognormal_link();
  always.reorder_ppm = 1'000'000;
  NetworkModel unordered{kSeed, always};
  CHECK(inversions(run(unordered, kMessages, 100)) > kMessages / 10);
}

TEST_CASE("network: FIFO holds on each of 10,000 links while the link table grows",
          "[net_model][network]") {
  NetworkModel net{kSeed, lognormal_link()};
  constexpr std::uint32_t kClients = 5'000;
  std::map<std::pair<std::uint32_t, std::uint32_t>, Time> last;  // test's own per-link record
  int clamped = 0;
  for (int round = 0; round < 20; ++round) {
    for (std::uint32_t c = 0; c < kClients; ++c) {
      const Time now = at_us(round * 200);  // much less than the latency spread
      const std::uint32_t server = 100'000 + c % 4;
      for (const auto& [from, to] : {std::pair{c, server}, std::pair{server, c}}) {
        const Fate f = net.decide(HostId{from}, HostId{to}, now);
        Time& previous = last[{from, to}];
        REQUIRE(f.deliver_at >= previous);
        if (f.deliver_at == previous) ++clamped;
        previous = f.deliver_at;
      }
    }
  }
  CHECK(net.tracked_links() == 2 * kClients);
  CHECK(clamped > 10'000);  // the clamp really was exercised
}

TEST_CASE("network: reorder 5% reorders about 5% of messages", "[net_model][network]") {
  LinkConfig cfg = lognormal_link();
  cfg.reorder_ppm = 50'000;
  NetworkModel net{kSeed, cfg};
  const auto fates = run(net, kMessages, 100);
  const auto reordered = net.stats().reordered;
  // Expected 5000, sd ~69: +-5% is more than 3 sd.
  CHECK(reordered >= 4750);
  CHECK(reordered <= 5250);
  const int inv = inversions(fates);
  CHECK(inv > 1000);       // reordered messages really arrive after later ones
  CHECK(inv <= 2 * 5250);  // each reordered message breaks at most two adjacent pairs
}

TEST_CASE("network: FIFO state is per directed link", "[net_model][network]") {
  LinkConfig slow;
  slow.latency = LatencySpec{LatencyKind::constant, Duration::seconds(1), Duration::zero()};
  LinkConfig fast;
  fast.latency = LatencySpec{LatencyKind::constant, Duration::millis(1), Duration::zero()};
  NetworkModel net{kSeed, fast};
  net.set_link(h1, h2, slow, /*both_directions=*/false);
  CHECK(net.decide(h1, h2, at_us(0)).deliver_at == at_us(1'000'000));
  // Other links, including the reverse direction, are not held back by h1 -> h2.
  CHECK(net.decide(h1, h3, at_us(0)).deliver_at == at_us(1'000));
  CHECK(net.decide(h2, h1, at_us(0)).deliver_at == at_us(1'000));
  // After the override is cleared, h1 -> h2 is fast again but still FIFO behind the slow message.
  net.clear_link(h1, h2);
  CHECK(net.link(h1, h2) == fast);
  CHECK(net.decide(h1, h2, at_us(10)).deliver_at == at_us(1'000'000));
  CHECK(net.decide(h1, h2, at_us(2'000'000)).deliver_at == at_us(2'001'000));
}

TEST_CASE("network: set_link overrides one or both directions", "[net_model][network]") {
  LinkConfig seven;
  seven.latency = LatencySpec{LatencyKind::constant, Duration::millis(7), Duration::zero()};
  NetworkModel net{kSeed, uniform_link()};
  net.set_link(h1, h2, seven, /*both_directions=*/true);
  CHECK(net.link(h1, h2) == seven);
  CHECK(net.link(h2, h1) == seven);
  CHECK(net.link(h1, h3) == uniform_link());
  CHECK(net.decide(h2, h1, at_us(0)).deliver_at == at_us(7'000));
  net.clear_link(h2, h1, /*both_directions=*/false);
  CHECK(net.link(h1, h2) == seven);
  CHECK(net.link(h2, h1) == uniform_link());
}

TEST_CASE("network: a symmetric partition cuts between groups only", "[net_model][network]") {
  NetworkModel net{kSeed, uniform_link()};
  const PartitionId p = net.partition({{h1, h2}, {h3, h4}});
  CHECK(drop_reason(net, h1, h3) == DropReason::partition);
  CHECK(drop_reason(net, h3, h1) == DropReason::partition);
  CHECK(drop_reason(net, h2, h4) == DropReason::partition);
  CHECK(delivers(net, h1, h2));
  CHECK(delivers(net, h4, h3));
  CHECK(delivers(net, h5, h1));  // not named in any group: connected to everyone
  CHECK(delivers(net, h3, h5));
  CHECK(delivers(net, h3, h3));
  CHECK_FALSE(net.connected(h1, h4));
  CHECK(net.connected(h1, h5));
  CHECK(net.stats().dropped_partition == 3);
  net.heal(p);
  CHECK(delivers(net, h1, h3));
  CHECK(delivers(net, h3, h1));
  CHECK(net.connected(h1, h4));
  require_stats_add_up(net);
}

TEST_CASE("network: a one-way partition cuts one direction only", "[net_model][network]") {
  NetworkModel net{kSeed, uniform_link()};
  const PartitionId p = net.partition_oneway({h1}, {h2, h3});
  CHECK(drop_reason(net, h1, h2) == DropReason::partition);
  CHECK(drop_reason(net, h1, h3) == DropReason::partition);
  CHECK(delivers(net, h2, h1));
  CHECK(delivers(net, h3, h1));
  CHECK(delivers(net, h1, h4));
  CHECK(delivers(net, h2, h3));
  net.heal(p);
  CHECK(delivers(net, h1, h2));
}

TEST_CASE("network: isolate cuts a host from everyone, both ways", "[net_model][network]") {
  NetworkModel net{kSeed, uniform_link()};
  const PartitionId p = net.isolate(h3);
  for (const HostId other : {h1, h2, h4, h5}) {
    CHECK(drop_reason(net, h3, other) == DropReason::isolated);
    CHECK(drop_reason(net, other, h3) == DropReason::isolated);
  }
  CHECK(delivers(net, h1, h2));
  CHECK(delivers(net, h3, h3));  // a message to itself crosses no link
  net.heal(p);
  CHECK(delivers(net, h3, h1));
  CHECK(delivers(net, h1, h3));
}

TEST_CASE("network: overlapping partitions cut if any cuts; heal removes one",
          "[net_model][network]") {
  NetworkModel net{kSeed, uniform_link()};
  const PartitionId a = net.partition({{h1}, {h2}});
  const PartitionId b = net.partition({{h1, h3}, {h2}});
  CHECK(a != b);
  CHECK(net.active_partitions() == 2);
  CHECK_FALSE(net.connected(h1, h2));
  CHECK_FALSE(net.connected(h3, h2));
  net.heal(a);
  CHECK_FALSE(net.connected(h1, h2));  // b still cuts it
  net.heal(a);                         // healing twice is a no-op
  CHECK(net.active_partitions() == 1);
  net.isolate(h4);
  net.partition_oneway({h5}, {h1});
  CHECK(net.active_partitions() == 3);
  net.heal_all();
  CHECK(net.active_partitions() == 0);
  for (const HostId x : {h1, h2, h3, h4, h5}) {
    for (const HostId y : {h1, h2, h3, h4, h5}) CHECK(net.connected(x, y));
  }
  net.heal(b);  // already healed by heal_all
}

TEST_CASE("network: hold clogs one direction until release", "[net_model][network]") {
  NetworkModel net{kSeed, uniform_link()};
  net.hold(h1, h2);
  CHECK(net.decide(h1, h2, at_us(0)).kind == FateKind::hold);
  CHECK(net.decide(h1, h2, at_us(5)).kind == FateKind::hold);
  CHECK(delivers(net, h2, h1));
  CHECK(net.connected(h1, h2));  // clogged, not cut
  CHECK(net.stats().held == 2);
  net.release(h1, h2);
  const Fate f = net.decide(h1, h2, at_us(100));
  CHECK(f.kind == FateKind::deliver);
  CHECK(f.deliver_at >= at_us(1'100));
  CHECK(net.stats().held == 2);
  require_stats_add_up(net);
}

TEST_CASE("network: a held message draws no random numbers", "[net_model][network]") {
  LinkConfig cfg = lognormal_link();
  cfg.loss_ppm = 100'000;
  cfg.duplicate_ppm = 100'000;
  NetworkModel plain{kSeed, cfg};
  NetworkModel clogged{kSeed, cfg};
  clogged.hold(h1, h3);
  for (int i = 0; i < 100; ++i) clogged.decide(h1, h3, at_us(0));
  CHECK(run(plain, 1000, 100) == run(clogged, 1000, 100));
}

TEST_CASE("network: same seed gives the same fates, another seed different ones",
          "[net_model][network]") {
  LinkConfig cfg = lognormal_link();
  cfg.loss_ppm = 20'000;
  cfg.duplicate_ppm = 10'000;
  cfg.reorder_ppm = 30'000;
  NetworkModel a{kSeed, cfg};
  NetworkModel b{kSeed, cfg};
  NetworkModel c{kSeed + 1, cfg};
  const auto fa = run(a, 10'000, 50);
  CHECK(fa == run(b, 10'000, 50));
  CHECK(fa != run(c, 10'000, 50));
}

TEST_CASE("network: changing loss or partitions does not change other messages' latency",
          "[net_model][network]") {
  // Messages 100ms apart, so the FIFO clamp never binds and deliver_at - sent is the raw sample.
  LinkConfig lossless = uniform_link();
  LinkConfig lossy = uniform_link();
  lossy.loss_ppm = 200'000;
  NetworkModel a{kSeed, lossless};
  NetworkModel b{kSeed, lossy};
  NetworkModel c{kSeed, lossless};
  int compared = 0;
  int dropped = 0;
  for (int i = 0; i < 10'000; ++i) {
    const Time now = at_us(i * 100'000);
    std::optional<PartitionId> p;
    if (i % 3 == 0) p = c.isolate(h2);
    const Fate fa = a.decide(h1, h2, now);
    const Fate fb = b.decide(h1, h2, now);
    const Fate fc = c.decide(h1, h2, now);
    if (p) c.heal(*p);
    if (fb.kind != FateKind::deliver || fc.kind != FateKind::deliver) {
      ++dropped;
      continue;
    }
    REQUIRE(fa.deliver_at == fb.deliver_at);
    REQUIRE(fa.deliver_at == fc.deliver_at);
    ++compared;
  }
  CHECK(dropped > 4'000);
  CHECK(compared > 4'000);
}

}  // namespace shardsim::net
