// engine/net/reliable_channel: two channels A <-> B over a network the test controls frame by frame
// (drop, duplicate, delay) and a clock advanced by hand. Whatever the network does, every payload
// is delivered exactly once and in order, the sender's backlog drains, the window is a hard limit,
// and malformed frames are rejected whole and counted.
#include "engine/net/reliable_channel.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "engine/core/rng.h"
#include "tests/engine/fakes.h"

namespace shardsim {
namespace {

using testing::ManualClock;
using testing::RecordingTransport;
using Bytes = std::vector<std::uint8_t>;

constexpr HostId kA{1};
constexpr HostId kB{2};

// What the network does to one frame.
struct Fate {
  bool drop{false};
  int copies{1};       // > 1: duplicated
  int delay_steps{0};  // > 0: later frames overtake it
};

struct Endpoint {
  Endpoint(HostId self, ReliableChannel::Config config) : transport{self}, channel{config} {}
  RecordingTransport transport;
  ReliableChannel channel;
  std::vector<Bytes> delivered;
  std::deque<Bytes> to_send;  // application payloads the window has not taken yet
  std::uint64_t frames_sent{0};
};

// Two endpoints and the frames between them. One step: both sides offer queued payloads, the clock
// advances, frames due this step arrive (in the order sent, unless delayed), then both sides run
// their retransmission scan and flush owed acks — what a node does once per tick.
class Link {
 public:
  using Policy = std::function<Fate(HostId from, std::uint64_t frame_index)>;

  explicit Link(ReliableChannel::Config config, Policy policy = {})
      : a{kA, config}, b{kB, config}, policy_{std::move(policy)} {}

  void step(Duration dt = Duration::millis(10)) {
    offer(a, b.transport.self());
    offer(b, a.transport.self());
    collect(a);
    collect(b);
    clock.advance(dt);
    ++step_;
    std::vector<InFlight> due;
    std::vector<InFlight> later;
    for (auto& f : in_flight_) (f.due_step <= step_ ? due : later).push_back(std::move(f));
    in_flight_ = std::move(later);
    for (const auto& f : due) {
      Endpoint& to = f.to == kA ? a : b;
      const auto result = to.channel.on_frame(
          f.bytes, to.transport, f.from,
          [&](std::span<const std::uint8_t> p) { to.delivered.emplace_back(p.begin(), p.end()); });
      REQUIRE(result == ReliableChannel::FrameResult::ok);  // the network never forges frames
    }
    for (Endpoint* e : {&a, &b}) {
      const HostId peer = e == &a ? kB : kA;
      e->channel.retransmit_due(clock.now(), e->transport, peer);
      e->channel.flush_ack(e->transport, peer);
    }
    collect(a);
    collect(b);
  }

  bool idle() const {
    return in_flight_.empty() && a.to_send.empty() && b.to_send.empty() &&
           a.channel.unacked() == 0 && b.channel.unacked() == 0;
  }

  ManualClock clock;
  Endpoint a;
  Endpoint b;

 private:
  struct InFlight {
    HostId from;
    HostId to;
    Bytes bytes;
    std::uint64_t due_step{0};
  };

  void offer(Endpoint& e, HostId peer) {
    while (!e.to_send.empty() && e.channel.send(e.to_send.front(), clock.now(), e.transport, peer))
      e.to_send.pop_front();
  }

  void collect(Endpoint& e) {
    for (auto& s : e.transport.take()) {
      const HostId from = e.transport.self();
      const Fate fate = policy_ ? policy_(from, e.frames_sent) : Fate{};
      ++e.frames_sent;
      if (fate.drop) continue;
      for (int c = 0; c < fate.copies; ++c)
        in_flight_.push_back(InFlight{from, s.to, s.bytes, step_ + 1 + fate.delay_steps});
    }
  }

  Policy policy_;
  std::vector<InFlight> in_flight_;
  std::uint64_t step_{0};
};

void put_varint(Bytes& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<std::uint8_t>(v | 0x80));
  out.push_back(static_cast<std::uint8_t>(v));
}

// Payload i: its index, then random bytes (variable sizes, including bytes that look like headers).
Bytes payload(std::uint32_t i, Rng& rng) {
  Bytes p;
  put_varint(p, i);
  const auto extra = rng.below(40);
  for (std::uint64_t k = 0; k < extra; ++k) p.push_back(static_cast<std::uint8_t>(rng.below(256)));
  return p;
}

ReliableChannel::Config small_window(std::uint32_t window) {
  ReliableChannel::Config c;
  c.window_max = window;
  return c;
}

Bytes data_frame(std::uint64_t seq, std::uint64_t ack, const Bytes& body = {}) {
  Bytes f{0x01};
  put_varint(f, seq);
  put_varint(f, ack);
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

Bytes ack_frame(std::uint64_t ack) {
  Bytes f{0x02};
  put_varint(f, ack);
  return f;
}

Bytes gap_ack_frame(std::uint64_t ack) {
  Bytes f{0x03};
  put_varint(f, ack);
  return f;
}

// Feeds one frame to `ch`, collecting deliveries; returns the result.
ReliableChannel::FrameResult feed(ReliableChannel& ch, const Bytes& frame, RecordingTransport& t,
                                  HostId peer, std::vector<Bytes>& delivered) {
  return ch.on_frame(frame, t, peer, [&](std::span<const std::uint8_t> p) {
    delivered.emplace_back(p.begin(), p.end());
  });
}

}  // namespace

TEST_CASE("reliable channel: a perfect network delivers in order and acks everything",
          "[engine][reliable_channel]") {
  Link link{ReliableChannel::Config{}};
  Rng rng{1};
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 100; ++i)
    link.a.to_send.push_back(sent.emplace_back(payload(i, rng)));
  for (int s = 0; s < 20 && !link.idle(); ++s) link.step();
  REQUIRE(link.idle());
  REQUIRE(link.b.delivered == sent);
  REQUIRE(link.a.channel.stats().retransmits == 0);
  REQUIRE(link.b.channel.stats().duplicates == 0);
}

TEST_CASE("reliable channel: scripted drop, duplicate and reorder still give exactly-once in order",
          "[engine][reliable_channel]") {
  // A's frames by index: 0 seq1 delivered, 1 seq2 dropped, 2 seq3 duplicated, 3 seq4 delayed so
  // seq5 overtakes it, 4 seq5. B's acks pass untouched.
  Link link{ReliableChannel::Config{}, [](HostId from, std::uint64_t i) {
              if (from != kA) return Fate{};
              if (i == 1) return Fate{.drop = true};
              if (i == 2) return Fate{.copies = 2};
              if (i == 3) return Fate{.delay_steps = 2};
              return Fate{};
            }};
  Rng rng{2};
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 5; ++i)
    link.a.to_send.push_back(sent.emplace_back(payload(i, rng)));
  link.step();
  // Only seq 1 is in order; 3 and 5 wait behind the gap at 2, 4 is still in flight.
  REQUIRE(link.b.delivered == std::vector<Bytes>{sent[0]});
  REQUIRE(link.b.channel.stats().duplicates == 1);  // the second copy of seq 3
  for (int s = 0; s < 100 && !link.idle(); ++s) link.step();
  REQUIRE(link.idle());
  REQUIRE(link.b.delivered == sent);
  REQUIRE(link.a.channel.stats().retransmits >= 1);  // seq 2 had to be resent
}

TEST_CASE("reliable channel: 1000 payloads each way over 20% loss, 10% dup, 20% reorder",
          "[engine][reliable_channel]") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    Rng net = Rng::stream(seed, "test.lossy_net");
    ReliableChannel::Config config;
    config.window_max = 32;  // small, so the window actually fills and send() must be retried
    Link link{config, [&](HostId, std::uint64_t) {
                Fate f;
                f.drop = net.chance_ppm(200'000);
                f.copies = net.chance_ppm(100'000) ? 2 : 1;
                f.delay_steps = net.chance_ppm(200'000) ? static_cast<int>(net.between(1, 5)) : 0;
                return f;
              }};
    Rng data{seed};
    std::vector<Bytes> a_to_b;
    std::vector<Bytes> b_to_a;
    for (std::uint32_t i = 0; i < 1000; ++i) {
      link.a.to_send.push_back(a_to_b.emplace_back(payload(i, data)));
      link.b.to_send.push_back(b_to_a.emplace_back(payload(i, data)));
    }
    int steps = 0;
    for (; steps < 20000 && !link.idle(); ++steps) {
      link.step();
      REQUIRE(link.a.channel.unacked() <= config.window_max);
      REQUIRE(link.b.channel.unacked() <= config.window_max);
    }
    REQUIRE(link.idle());
    REQUIRE(link.a.channel.unacked() == 0);
    REQUIRE(link.b.channel.unacked() == 0);
    REQUIRE(link.b.delivered.size() == a_to_b.size());
    REQUIRE(link.b.delivered == a_to_b);
    REQUIRE(link.a.delivered == b_to_a);
    // The faults really happened.
    REQUIRE(link.a.channel.stats().retransmits > 0);
    REQUIRE(link.b.channel.stats().duplicates > 0);
    REQUIRE(link.a.channel.stats().window_full > 0);
    REQUIRE(link.a.channel.stats().malformed == 0);
    REQUIRE(link.b.channel.stats().malformed == 0);
  }
}

TEST_CASE("reliable channel: a full window refuses the send and counts it",
          "[engine][reliable_channel]") {
  ReliableChannel a{small_window(4)};
  RecordingTransport ta{kA};
  const Bytes p{0x42};
  for (int i = 0; i < 4; ++i) REQUIRE(a.send(p, Time::zero(), ta, kB));
  REQUIRE(a.unacked() == 4);
  REQUIRE_FALSE(a.send(p, Time::zero(), ta, kB));
  REQUIRE_FALSE(a.send(p, Time::zero(), ta, kB));
  REQUIRE(a.stats().window_full == 2);
  REQUIRE(a.unacked() == 4);
  REQUIRE(ta.sent().size() == 4);  // refused sends put nothing on the wire

  // A cumulative ack for seq 2 frees two slots, and the ring keeps seq order when it wraps.
  std::vector<Bytes> got;
  REQUIRE(feed(a, ack_frame(2), ta, kB, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(a.unacked() == 2);
  REQUIRE(a.send(p, Time::zero(), ta, kB));
  REQUIRE(a.send(p, Time::zero(), ta, kB));
  REQUIRE_FALSE(a.send(p, Time::zero(), ta, kB));
  REQUIRE(a.stats().window_full == 3);
  REQUIRE(ta.sent().back().bytes == data_frame(6, 0, p));
  REQUIRE(feed(a, ack_frame(6), ta, kB, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(a.unacked() == 0);
}

TEST_CASE("reliable channel: a payload built in place makes the same frames as send()",
          "[engine][reliable_channel]") {
  ReliableChannel a{small_window(3)};
  ReliableChannel b{small_window(3)};
  RecordingTransport ta{kA};
  RecordingTransport tb{kA};
  Rng rng{5};
  // Small payloads, and one larger than a frame on the stack (built in the frame buffer instead).
  const std::vector<Bytes> payloads{payload(1, rng), Bytes(3000, 0x5a), payload(2, rng)};
  for (const auto& p : payloads) {
    REQUIRE(a.send(p, Time::zero(), ta, kB));
    REQUIRE(b.send_encoded(p.size() + 7, Time::zero(), tb, kB, [&](std::span<std::uint8_t> room) {
      REQUIRE(room.size() == p.size() + 7);
      std::copy(p.begin(), p.end(), room.begin());
      return p.size();
    }));
  }
  // A full window refuses before anything is encoded.
  REQUIRE_FALSE(b.send_encoded(4, Time::zero(), tb, kB, [](std::span<std::uint8_t>) -> std::size_t {
    FAIL("encoded into a full window");
    return 0;
  }));
  REQUIRE(b.stats().window_full == 1);
  REQUIRE(tb.sent().size() == ta.sent().size());
  for (std::size_t i = 0; i < ta.sent().size(); ++i) REQUIRE(tb.sent()[i].bytes == ta.sent()[i].bytes);
  // The retransmitted frames (from the kept payloads) are the same too.
  const Time later = Time::zero() + Duration::seconds(1);
  REQUIRE(a.retransmit_due(later, ta, kB) == 3);
  REQUIRE(b.retransmit_due(later, tb, kB) == 3);
  for (std::size_t i = 3; i < 6; ++i) REQUIRE(tb.sent()[i].bytes == ta.sent()[i].bytes);
}

TEST_CASE("reliable channel: retransmission waits for the rto and backs off to rto_max",
          "[engine][reliable_channel]") {
  ReliableChannel::Config config;
  config.rto = Duration::millis(200);
  config.rto_max = Duration::millis(700);
  ReliableChannel a{config};
  RecordingTransport ta{kA};
  const Bytes p{7, 7};
  REQUIRE(a.send(p, Time::zero(), ta, kB));
  const auto at = [](std::int64_t ms) { return Time::zero() + Duration::millis(ms); };
  REQUIRE(a.retransmit_due(at(199), ta, kB) == 0);
  REQUIRE(a.retransmit_due(at(200), ta, kB) == 1);  // after 200
  REQUIRE(a.retransmit_due(at(599), ta, kB) == 0);
  REQUIRE(a.retransmit_due(at(600), ta, kB) == 1);  // after 400 more
  REQUIRE(a.retransmit_due(at(1299), ta, kB) == 0);
  REQUIRE(a.retransmit_due(at(1300), ta, kB) == 1);  // 800 capped to 700
  REQUIRE(a.retransmit_due(at(2000), ta, kB) == 1);  // stays at 700
  REQUIRE(a.stats().retransmits == 4);
  // Every resend is the same data frame.
  REQUIRE(ta.sent().size() == 5);
  for (const auto& s : ta.sent()) REQUIRE(s.bytes == data_frame(1, 0, p));
}

TEST_CASE("reliable channel: retransmit_due resends exactly the frames due, at any mix of calls",
          "[engine][reliable_channel]") {
  // A reference model of the timers (sent_at, retries per unacked seq) against the channel, which
  // skips its scan before its earliest deadline: every call must resend exactly what the model does.
  ReliableChannel::Config config;
  config.rto = Duration::millis(200);
  config.rto_max = Duration::millis(900);
  ReliableChannel a{config};
  RecordingTransport ta{kA};
  struct Timer {
    std::uint64_t seq;
    Time sent_at;
    std::uint32_t retries;
  };
  std::deque<Timer> model;
  const auto timeout = [&](std::uint32_t retries) {
    Duration t = config.rto;
    for (std::uint32_t i = 0; i < retries; ++i) t = std::min(t * 2, config.rto_max);
    return t;
  };
  Rng rng{17};
  Time now = Time::zero();
  std::uint64_t next_seq = 1;
  std::vector<Bytes> got;
  for (int step = 0; step < 20000; ++step) {
    now += Duration::millis(static_cast<std::int64_t>(rng.below(60)));
    const auto op = rng.below(10);
    if (op < 3 && model.size() < config.window_max) {
      REQUIRE(a.send(Bytes{1, 2, 3}, now, ta, kB));
      model.push_back({next_seq++, now, 0});
    } else if (op < 5 && !model.empty()) {
      const std::uint64_t ack = model[rng.below(model.size())].seq;
      REQUIRE(feed(a, ack_frame(ack), ta, kB, got) == ReliableChannel::FrameResult::ok);
      while (!model.empty() && model.front().seq <= ack) model.pop_front();
    } else {
      std::uint32_t expect = 0;
      for (auto& t : model) {
        if (now - t.sent_at < timeout(t.retries)) continue;
        t.sent_at = now;
        ++t.retries;
        ++expect;
      }
      REQUIRE(a.retransmit_due(now, ta, kB) == expect);
    }
    REQUIRE(a.unacked() == model.size());
  }
}

TEST_CASE("reliable channel: a duplicate is delivered once and answered with an immediate ack",
          "[engine][reliable_channel]") {
  ReliableChannel b;
  RecordingTransport tb{kB};
  std::vector<Bytes> got;
  const Bytes f = data_frame(1, 0, {9});
  REQUIRE(feed(b, f, tb, kA, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(tb.sent().empty());  // ack_every = 4: one frame does not force an ack yet
  REQUIRE(b.ack_owed());
  REQUIRE(feed(b, f, tb, kA, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(got == std::vector<Bytes>{{9}});
  REQUIRE(b.stats().duplicates == 1);
  REQUIRE(tb.sent().size() == 1);
  REQUIRE(tb.sent()[0].bytes == ack_frame(1));
}

TEST_CASE("reliable channel: a gap is acked at once and the buffered frames follow in order",
          "[engine][reliable_channel]") {
  ReliableChannel b;
  RecordingTransport tb{kB};
  std::vector<Bytes> got;
  REQUIRE(feed(b, data_frame(3, 0, {3}), tb, kA, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(feed(b, data_frame(2, 0, {2}), tb, kA, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(got.empty());
  REQUIRE(tb.sent().size() == 2);
  REQUIRE(tb.sent()[0].bytes == gap_ack_frame(0));  // one gap ack per frame beyond the gap
  REQUIRE(tb.sent()[1].bytes == gap_ack_frame(0));
  REQUIRE(feed(b, data_frame(1, 0, {1}), tb, kA, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(got == std::vector<Bytes>{{1}, {2}, {3}});
  b.flush_ack(tb, kA);
  REQUIRE(tb.sent().back().bytes == ack_frame(3));
}

TEST_CASE("reliable channel: the second gap ack for a frame resends it at once, and only once",
          "[engine][reliable_channel]") {
  ReliableChannel a;
  RecordingTransport ta{kA};
  for (std::uint8_t i = 1; i <= 4; ++i) REQUIRE(a.send(Bytes{i}, Time::zero(), ta, kB));
  ta.take();
  std::vector<Bytes> none;
  // Frame 1 is missing at the peer: the first gap ack may be mere reordering, the second is not.
  REQUIRE(feed(a, gap_ack_frame(0), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().empty());
  REQUIRE(feed(a, gap_ack_frame(0), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().size() == 1);
  REQUIRE(ta.sent()[0].bytes == data_frame(1, 0, {1}));
  REQUIRE(a.stats().fast_retransmits == 1);
  REQUIRE(a.stats().retransmits == 1);
  // More gap acks for the same frame: its timer, not a storm of copies, repairs a lost resend.
  REQUIRE(feed(a, gap_ack_frame(0), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().size() == 1);
  // The timer was left alone: it fires at rto after the original send, as without fast retransmit.
  const Time before_rto = Time::zero() + a.config().rto - Duration::micros(1);
  REQUIRE(a.retransmit_due(before_rto, ta, kB) == 0);
  REQUIRE(a.retransmit_due(Time::zero() + a.config().rto, ta, kB) == 4);
  ta.take();
  // Frame 1 acknowledged, frame 2 missing: a new hole counts its own gap acks from zero.
  REQUIRE(feed(a, gap_ack_frame(1), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().empty());
  REQUIRE(feed(a, gap_ack_frame(1), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().size() == 1);
  REQUIRE(ta.sent()[0].bytes == data_frame(2, 0, {2}));
  // A stale gap ack (the head has moved past what it names) resends nothing.
  REQUIRE(feed(a, ack_frame(3), ta, kB, none) == ReliableChannel::FrameResult::ok);
  ta.take();
  REQUIRE(feed(a, gap_ack_frame(1), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(feed(a, gap_ack_frame(1), ta, kB, none) == ReliableChannel::FrameResult::ok);
  REQUIRE(ta.sent().empty());
  REQUIRE(a.stats().fast_retransmits == 2);
  REQUIRE(a.unacked() == 1);
}

TEST_CASE("reliable channel: garbage frames are rejected and counted, state untouched",
          "[engine][reliable_channel]") {
  ReliableChannel a;
  RecordingTransport ta{kA};
  REQUIRE(a.send(Bytes{1}, Time::zero(), ta, kB));
  REQUIRE(a.send(Bytes{2}, Time::zero(), ta, kB));
  ta.take();
  Bytes eleven(10, 0x80);
  eleven.push_back(0);
  const std::vector<Bytes> garbage = {
      {},                     // empty
      {0x00},                 // unknown type
      {0x03, 1, 0},           // gap ack with a trailing byte
      {0x04, 1, 0},           // unknown type
      {0xff, 0xff, 0xff},     // unknown type
      {0x02},                 // ack without its number
      {0x02, 0x80},           // truncated varint
      {0x02, 1, 0},           // trailing byte after an ack
      {0x01},                 // data without seq
      {0x01, 1},              // data without ack
      {0x01, 0, 0, 5},        // seq 0 does not exist
      data_frame(1, 3, {5}),  // acks seq 3, never sent
      ack_frame(3),           // ack for a seq never sent
      ack_frame(~0ULL),
      [&] {
        Bytes f;
        f.reserve(1 + eleven.size());  // (without it, g++ 12 warns falsely of array bounds)
        f.push_back(0x02);
        f.insert(f.end(), eleven.begin(), eleven.end());
        return f;
      }(),
  };
  std::vector<Bytes> got;
  for (std::size_t i = 0; i < garbage.size(); ++i) {
    INFO("garbage #" << i);
    REQUIRE(feed(a, garbage[i], ta, kB, got) == ReliableChannel::FrameResult::malformed);
    REQUIRE(a.stats().malformed == i + 1);
  }
  REQUIRE(got.empty());
  REQUIRE(a.unacked() == 2);
  REQUIRE_FALSE(a.ack_owed());
  REQUIRE(ta.sent().empty());
  // Still a working channel: a real ack and a real data frame are accepted.
  REQUIRE(feed(a, ack_frame(2), ta, kB, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(a.unacked() == 0);
  REQUIRE(feed(a, data_frame(1, 2, {8}), ta, kB, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(got == std::vector<Bytes>{{8}});
}

TEST_CASE("reliable channel: a data frame beyond the receive window is rejected whole",
          "[engine][reliable_channel]") {
  // seq - delivered may be at most window_max; a frame beyond that cannot come from a correct peer,
  // so nothing in it is trusted — not even its piggybacked ack.
  ReliableChannel a{small_window(8)};
  RecordingTransport ta{kA};
  for (std::uint8_t i = 0; i < 3; ++i) REQUIRE(a.send(Bytes{i}, Time::zero(), ta, kB));
  std::vector<Bytes> got;
  REQUIRE(feed(a, data_frame(9, 3, {1}), ta, kB, got) == ReliableChannel::FrameResult::malformed);
  REQUIRE(a.stats().malformed == 1);
  REQUIRE(a.unacked() == 3);
  REQUIRE(got.empty());
  // At the window's edge the frame is fine (buffered, awaiting 1..7).
  REQUIRE(feed(a, data_frame(8, 0, {8}), ta, kB, got) == ReliableChannel::FrameResult::ok);
  REQUIRE(a.stats().malformed == 1);
  REQUIRE(got.empty());
}

TEST_CASE("reliable channel: 20k random frames never crash a channel",
          "[engine][reliable_channel][fuzz]") {
  ReliableChannel a{small_window(16)};
  RecordingTransport ta{kA};
  Rng rng = Rng::stream(5, "test.channel.fuzz");
  std::vector<Bytes> got;
  std::uint64_t results = 0;
  for (int i = 0; i < 20000; ++i) {
    if (rng.chance_ppm(100'000)) (void)a.send(Bytes{1, 2, 3}, Time::zero(), ta, kB);
    Bytes f;
    const auto n = rng.below(8);
    for (std::uint64_t k = 0; k < n; ++k)
      f.push_back(
          static_cast<std::uint8_t>(rng.chance_ppm(500'000) ? rng.below(4) : rng.below(256)));
    if (!f.empty() && rng.chance_ppm(600'000)) f[0] = static_cast<std::uint8_t>(1 + rng.below(2));
    const auto before = a.stats().malformed;
    const auto r = feed(a, f, ta, kB, got);
    results += r == ReliableChannel::FrameResult::ok;
    REQUIRE(a.stats().malformed == before + (r == ReliableChannel::FrameResult::malformed ? 1 : 0));
    REQUIRE(a.unacked() <= 16);
    ta.take();
  }
  REQUIRE(results > 0);
  REQUIRE(a.stats().malformed > 0);
}

}  // namespace shardsim
