// EventQueue (a wheel of 64 us buckets, each sorted into a run when served, beside a monotone radix
// heap): order is (time, insertion sequence), ties FIFO, times monotone, across the wheel's
// wrap-around, its span, bucket edges and ties between the run and the heap.
#include "sim/kernel/event_queue.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "engine/core/rng.h"

namespace shardsim::sim {
namespace {

Event at(std::int64_t us, std::uint64_t tag = 0) {
  Event e;
  e.time = Time::from_micros(us);
  e.a = tag;
  return e;
}

// The reference: a binary heap ordered by (time, seq), the definition of the kernel's event order.
struct Later {
  bool operator()(const Event& x, const Event& y) const {
    return x.time != y.time ? x.time > y.time : x.seq > y.seq;
  }
};
using ReferenceQueue = std::priority_queue<Event, std::vector<Event>, Later>;

void require_same(const Event& got, const Event& want) {
  REQUIRE(got.time == want.time);
  REQUIRE(got.seq == want.seq);
  REQUIRE(got.kind == want.kind);
  REQUIRE(got.host == want.host);
  REQUIRE(got.a == want.a);
  REQUIRE(got.b == want.b);
}

// Runs `body` in a forked child and reports whether it died of SIGABRT, i.e. a failed SHARD_ASSERT
// (always on). The child restores the default SIGABRT action, which Catch2 hooks, and silences the
// assertion report.
template <class Body>
bool aborts(Body body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, STDERR_FILENO);
    body();
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

}  // namespace

TEST_CASE("event queue: a new queue is empty", "[sim][kernel][event_queue]") {
  EventQueue q;
  REQUIRE(q.empty());
  REQUIRE(q.size() == 0);
}

TEST_CASE("event queue: size and empty track pushes and pops", "[sim][kernel][event_queue]") {
  EventQueue q;
  q.push(at(30));
  q.push(at(10));
  q.push(at(20));
  REQUIRE_FALSE(q.empty());
  REQUIRE(q.size() == 3);
  REQUIRE(q.next_time() == Time::from_micros(10));
  REQUIRE(q.pop().time == Time::from_micros(10));
  REQUIRE(q.size() == 2);
  REQUIRE(q.next_time() == Time::from_micros(20));
  REQUIRE(q.pop().time == Time::from_micros(20));
  REQUIRE(q.pop().time == Time::from_micros(30));
  REQUIRE(q.empty());
  REQUIRE(q.size() == 0);
  // Reusable after draining, from the last popped time on.
  q.push(at(30));
  REQUIRE(q.size() == 1);
  REQUIRE(q.next_time() == Time::from_micros(30));
  REQUIRE(q.pop().time == Time::from_micros(30));
  REQUIRE(q.empty());
}

TEST_CASE("event queue: push assigns increasing sequence numbers and keeps the payload",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  Event e = at(5, 77);
  e.seq = 12345;  // ignored: push assigns
  e.kind = 3;
  e.host = 9;
  e.b = 0xdeadbeef;
  q.push(e);
  q.push(at(5));
  const Event first = q.pop();
  REQUIRE(first.seq == 0);
  REQUIRE(first.kind == 3);
  REQUIRE(first.host == 9);
  REQUIRE(first.a == 77);
  REQUIRE(first.b == 0xdeadbeef);
  REQUIRE(q.pop().seq == 1);
}

TEST_CASE("event queue: equal times pop first-in first-out among interleaved others",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  // 1000 events at t=100 interleaved with events before, after and far after it.
  for (std::uint64_t i = 0; i < 1000; ++i) {
    q.push(at(100, i));
    q.push(at(static_cast<std::int64_t>(200 + i % 7), 1'000'000 + i));
    if (i % 3 == 0) q.push(at(static_cast<std::int64_t>(i % 100), 2'000'000 + i));
    if (i % 5 == 0) q.push(at(std::int64_t{1} << 40, 3'000'000 + i));
  }
  while (q.next_time() < Time::from_micros(100)) q.pop();
  // Pushes at the current time while the tie group drains join the back of that group.
  q.push(at(100, 1000));
  std::uint64_t next_tag = 0;
  while (q.next_time() == Time::from_micros(100)) {
    const Event e = q.pop();
    REQUIRE(e.a == next_tag);
    ++next_tag;
    if (next_tag == 500) q.push(at(100, 1001));
  }
  REQUIRE(next_tag == 1002);
  // The groups at t = 200..206 are FIFO too: tags rise within each time.
  std::int64_t time = -1;
  std::uint64_t tag = 0;
  std::size_t popped = 0;
  while (q.next_time() < Time::from_micros(std::int64_t{1} << 40)) {
    const Event e = q.pop();
    if (e.time.us() == time) REQUIRE(e.a > tag);
    time = e.time.us();
    tag = e.a;
    ++popped;
  }
  REQUIRE(popped == 1000);
  REQUIRE(q.size() == 200);
  for (std::uint64_t i = 0; i < 1000; i += 5) REQUIRE(q.pop().a == 3'000'000 + i);
  REQUIRE(q.empty());
}

TEST_CASE("event queue: events pushed at the time just popped run after the ones already there",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  q.push(at(10, 0));
  q.push(at(10, 1));
  q.push(at(20, 2));
  REQUIRE(q.pop().a == 0);
  q.push(at(10, 3));  // "now": joins the back of the t=10 group
  q.push(at(15, 4));
  REQUIRE(q.pop().a == 1);
  REQUIRE(q.pop().a == 3);
  REQUIRE(q.pop().a == 4);
  REQUIRE(q.pop().a == 2);
  REQUIRE(q.empty());
}

TEST_CASE("event queue: large time jumps near 2^62", "[sim][kernel][event_queue]") {
  EventQueue q;
  const std::int64_t big = std::int64_t{1} << 62;
  const std::int64_t top = Time::max().us();  // INT64_MAX / 2 == 2^62 - 1
  q.push(at(top, 0));
  q.push(at(0, 1));
  q.push(at(big - 2, 2));
  q.push(at(top, 3));
  q.push(at(big + 5, 4));
  q.push(at(1, 5));
  q.push(at(std::numeric_limits<std::int64_t>::max(), 6));
  q.push(at(big + 5, 7));
  REQUIRE(q.size() == 8);
  REQUIRE(q.next_time() == Time::from_micros(0));
  for (const std::uint64_t tag : {1, 5, 2}) REQUIRE(q.pop().a == tag);
  // After a jump the queue accepts times at and after "now". This one ties with tags 0 and 3 and,
  // pushed last, runs after them.
  q.push(at(top, 8));
  REQUIRE(q.next_time() == Time::from_micros(top));
  for (const std::uint64_t tag : {0, 3, 8, 4, 7}) REQUIRE(q.pop().a == tag);
  REQUIRE(q.next_time() == Time::from_micros(std::numeric_limits<std::int64_t>::max()));
  REQUIRE(q.pop().a == 6);
  REQUIRE(q.empty());
}

TEST_CASE("event queue: pushing before the last popped time is a bug and aborts",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  q.push(at(100));
  q.push(at(200));
  REQUIRE(q.pop().time == Time::from_micros(100));
  q.push(at(100));  // at "now": allowed
  REQUIRE(aborts([&] { q.push(at(99)); }));
  REQUIRE(aborts([] {
    EventQueue fresh;
    fresh.push(at(-1));  // before the first pop the bound is time zero
  }));
  REQUIRE(q.size() == 2);  // the children's pushes did not touch this process
}

TEST_CASE("event queue: pop and next_time on an empty queue abort", "[sim][kernel][event_queue]") {
  REQUIRE(aborts([] {
    EventQueue q;
    q.pop();
  }));
  REQUIRE(aborts([] {
    EventQueue q;
    q.push(at(1));
    q.pop();
    static_cast<void>(q.next_time());
  }));
}

TEST_CASE("event queue: a move takes the events and leaves an empty, reusable queue",
          "[sim][kernel][event_queue]") {
  EventQueue source;
  for (std::uint64_t i = 0; i < 300; ++i) source.push(at(static_cast<std::int64_t>(i % 10), i));
  REQUIRE(source.pop().a == 0);
  EventQueue target = std::move(source);
  REQUIRE(target.size() == 299);
  REQUIRE(source.empty());  // NOLINT(bugprone-use-after-move): documented to be empty
  source.push(at(0, 7));    // reusable, with a fresh time bound
  REQUIRE(source.pop().a == 7);
  EventQueue other;
  other.push(at(5));
  other = std::move(target);
  REQUIRE(other.size() == 299);
  REQUIRE(other.pop().a == 10);  // t=0 group: tags 10, 20, ...; tag 0 was popped above
  std::int64_t last = 0;
  while (!other.empty()) {
    const Event e = other.pop();
    REQUIRE(e.time.us() >= last);
    last = e.time.us();
  }
}

TEST_CASE("event queue: matches a (time, seq) binary heap over 1e5 random operations",
          "[sim][kernel][event_queue]") {
  Rng rng = Rng::stream(42, "test.event_queue");
  EventQueue q;
  ReferenceQueue ref;
  std::uint64_t ref_seq = 0;
  Time now = Time::zero();
  auto push_both = [&](std::int64_t delta_us) {
    Event e = at((now + Duration::micros(delta_us)).us(), rng.next_u64());
    e.kind = static_cast<std::uint32_t>(rng.below(16));
    e.host = static_cast<std::uint32_t>(rng.below(1000));
    e.b = rng.next_u64();
    q.push(e);
    e.seq = ref_seq++;
    ref.push(e);
  };
  for (int i = 0; i < 100'000; ++i) {
    // Pushes slightly outnumber pops, so the queue grows to a few thousand; it drains at the end.
    if (ref.empty() || rng.below(100) < 52) {
      // Mixed delays: many exact ties, short, medium and rare huge jumps.
      const std::uint64_t shape = rng.below(100);
      std::int64_t delta = 0;
      if (shape < 20) {
        delta = 0;
      } else if (shape < 60) {
        delta = rng.between(1, 16);
      } else if (shape < 95) {
        delta = rng.between(1, 1'000'000);
      } else if (shape < 99) {
        delta = rng.between(1, std::int64_t{1} << 40);
      } else {
        delta = rng.between(1, std::int64_t{1} << 55);
      }
      push_both(std::min(delta, Time::max().us() - now.us()));
    } else {
      REQUIRE(q.next_time() == ref.top().time);
      const Event got = q.pop();
      require_same(got, ref.top());
      ref.pop();
      now = got.time;
    }
    REQUIRE(q.size() == ref.size());
  }
  while (!ref.empty()) {
    require_same(q.pop(), ref.top());
    ref.pop();
  }
  REQUIRE(q.empty());
}

TEST_CASE("event queue: a constant-size hold loop matches the reference over many refills",
          "[sim][kernel][event_queue]") {
  // Every pop is followed by a push: the kernel's steady state.
  Rng rng = Rng::stream(7, "test.event_queue.hold");
  EventQueue q;
  ReferenceQueue ref;
  std::uint64_t ref_seq = 0;
  for (int i = 0; i < 1000; ++i) {
    Event e = at(rng.between(0, 5000), static_cast<std::uint64_t>(i));
    q.push(e);
    e.seq = ref_seq++;
    ref.push(e);
  }
  for (int i = 0; i < 100'000; ++i) {
    const Event got = q.pop();
    require_same(got, ref.top());
    ref.pop();
    Event e = at((got.time + Duration::micros(rng.between(0, 3000))).us(), rng.next_u64());
    q.push(e);
    e.seq = ref_seq++;
    ref.push(e);
  }
  REQUIRE(q.size() == 1000);
}

constexpr std::int64_t kSpan = EventQueue::kNearSpanUs;
constexpr std::int64_t kBucket = EventQueue::kBucketUs;

// Pushes to both queues and pops both to the end (or `pops` times), checking every pop.
struct Differential {
  EventQueue q;
  ReferenceQueue ref;
  std::uint64_t ref_seq = 0;

  void push(std::int64_t time_us, std::uint64_t tag) {
    Event e = at(time_us, tag);
    q.push(e);
    e.seq = ref_seq++;
    ref.push(e);
  }
  Event pop() {
    REQUIRE(q.next_time() == ref.top().time);
    const Event got = q.pop();
    require_same(got, ref.top());
    ref.pop();
    return got;
  }
  void drain() {
    while (!ref.empty()) pop();
    REQUIRE(q.empty());
  }
};

TEST_CASE("event queue: events just inside and exactly at the wheel's span",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  q.push(at(1000, 0));
  REQUIRE(q.pop().a == 0);  // bucket 15 is served; the wheel takes buckets 16 .. 15 + 1023
  const std::int64_t last_in = (15 + 1024) * kBucket - 1;
  q.push(at(last_in + 1, 1));  // the first bucket past the span: the heap
  q.push(at(last_in, 2));      // the wheel's last bucket, in the slot before the served one's
  q.push(at(1000, 3));         // the served bucket: the heap
  q.push(at(last_in + 1, 4));  // ties with tag 1 in the heap
  q.push(at(16 * kBucket, 5)); // the wheel's first bucket
  REQUIRE(q.size() == 5);
  REQUIRE(q.next_time() == Time::from_micros(1000));
  for (const std::uint64_t tag : {3, 5, 2}) REQUIRE(q.pop().a == tag);
  // Now last_in + 1 is in the wheel's span: a push there goes to the wheel, behind tags 1 and 4.
  q.push(at(last_in + 1, 6));
  REQUIRE(q.next_time() == Time::from_micros(last_in + 1));
  for (const std::uint64_t tag : {1, 4, 6}) REQUIRE(q.pop().a == tag);
  REQUIRE(q.empty());
}

TEST_CASE("event queue: ties across the heap, the wheel and the run pop in push order",
          "[sim][kernel][event_queue]") {
  // Events at one time T pushed while T is past the wheel's span (heap), while it is in the wheel,
  // while its bucket is the run being served (heap again), and while the run drains.
  EventQueue q;
  const std::int64_t t = 3 * kSpan + 17;
  std::uint64_t tag = 0;
  std::vector<std::uint64_t> tags_at_t;
  auto push_t = [&] {
    q.push(at(t, tag));
    tags_at_t.push_back(tag++);
  };
  push_t();
  push_t();
  // Walk time forward in steps that straddle the span several times, then into T's bucket.
  for (std::int64_t now = 0; now < t; now += kSpan / 3) {
    q.push(at(now, 1'000'000 + static_cast<std::uint64_t>(now)));
    push_t();
    REQUIRE(q.pop().a == 1'000'000 + static_cast<std::uint64_t>(now));
    push_t();
  }
  q.push(at(t - 1, 2'000'000));  // T's bucket becomes the run when this pops
  push_t();
  REQUIRE(q.pop().a == 2'000'000);
  push_t();  // the served bucket: into the heap, behind the run's events at T
  std::vector<std::uint64_t> popped;
  while (!q.empty()) {
    const Event e = q.pop();
    REQUIRE(e.time.us() == t);
    popped.push_back(e.a);
    if (popped.size() == 3) push_t();  // at "now", while the tie group drains
  }
  REQUIRE(popped == tags_at_t);
}

TEST_CASE("event queue: the wheel wraps around many turns", "[sim][kernel][event_queue]") {
  // A steady stream whose times sweep the wheel's slots ten times over; each pop pushes events
  // that land on both sides of the wrap point and on bucket edges.
  Differential d;
  d.push(kSpan - 5, 0);
  std::uint64_t tag = 1;
  std::int64_t last = 0;
  while (last < 10 * kSpan) {
    last = d.pop().time.us();
    if (d.ref.size() < 200) {
      for (const std::int64_t delta : {0, 1, 63, 64, 65, 4095, 4096, 5000, 20'000, 65'000}) {
        if (delta < kSpan) d.push(last + delta, tag++);
      }
      d.push(last + kSpan - 1, tag++);
      d.push(last + kSpan, tag++);
    }
  }
  d.drain();
}

TEST_CASE("event queue: dense buckets, larger than a chunk, sort stably",
          "[sim][kernel][event_queue]") {
  // Hundreds of events per 64 us bucket, with many ties, plus pushes into the bucket being served.
  Differential d;
  Rng rng = Rng::stream(12, "test.event_queue.dense");
  std::uint64_t tag = 0;
  for (int i = 0; i < 3000; ++i) d.push(rng.between(0, 5 * kBucket - 1), tag++);
  for (int i = 0; i < 20'000; ++i) {
    const std::int64_t now = d.pop().time.us();
    if (rng.below(100) < 90) d.push(now + rng.between(0, 4 * kBucket), tag++);
    if (rng.below(100) < 5) d.push(now, tag++);
  }
  d.drain();
}

TEST_CASE("event queue: the heap's far events and jumps meet the wheel in order",
          "[sim][kernel][event_queue]") {
  // Everything starts past the wheel's span (times from 2 spans to 40 spans out, with ties); the
  // queue serves them through the heap, moving the wheel forward with each jump, while pushes
  // land just inside and just past the moving span.
  Differential d;
  Rng rng = Rng::stream(11, "test.event_queue.migrate");
  for (std::uint64_t i = 0; i < 5000; ++i) {
    d.push(2 * kSpan + static_cast<std::int64_t>(rng.below(38 * kSpan / 100)) * 100, i);
  }
  for (int i = 0; i < 4000; ++i) {
    const Event got = d.pop();
    if (i % 7 == 0) {
      const std::int64_t when = got.time.us() + kSpan - static_cast<std::int64_t>(rng.below(2));
      d.push(std::max(when - when % 100, got.time.us()), 100'000 + static_cast<std::uint64_t>(i));
    }
  }
  d.drain();
}

TEST_CASE("event queue: pop_until stops before later events and pops nothing from an empty queue",
          "[sim][kernel][event_queue]") {
  EventQueue q;
  Event e;
  REQUIRE_FALSE(q.pop_until(Time::from_micros(100), e));
  q.push(at(10, 0));
  q.push(at(20, 1));
  q.push(at(20 + 2 * kSpan, 2));  // past the wheel's span: the heap
  REQUIRE(q.pop_until(Time::from_micros(15), e));
  REQUIRE(e.a == 0);
  REQUIRE_FALSE(q.pop_until(Time::from_micros(15), e));
  REQUIRE(q.size() == 2);
  REQUIRE(q.pop_until(Time::from_micros(20), e));
  REQUIRE(e.a == 1);
  // Only the heap's event is left, and it is not due before its time.
  REQUIRE_FALSE(q.pop_until(Time::from_micros(20 + 2 * kSpan - 1), e));
  q.push(at(20, 3));  // still accepted at the last popped time
  REQUIRE(q.pop_until(Time::from_micros(20 + 2 * kSpan - 1), e));
  REQUIRE(e.a == 3);
  REQUIRE(q.pop_until(Time::from_micros(20 + 2 * kSpan), e));
  REQUIRE(e.a == 2);
  REQUIRE(q.empty());
}

TEST_CASE("event queue: matches the reference with delays clustered at the wheel's span",
          "[sim][kernel][event_queue]") {
  Rng rng = Rng::stream(43, "test.event_queue.horizon");
  Differential d;
  Time now = Time::zero();
  for (int i = 0; i < 100'000; ++i) {
    if (d.ref.empty() || rng.below(100) < 51) {
      const std::uint64_t shape = rng.below(100);
      std::int64_t delta = 0;
      if (shape < 10) {
        delta = 0;
      } else if (shape < 40) {
        delta = kSpan - 3 + rng.between(0, 6);  // around the wheel's span
      } else if (shape < 50) {
        delta = rng.between(1, 4) * kSpan;  // whole turns: the same wheel slot as now
      } else if (shape < 90) {
        delta = rng.between(1, 3 * kSpan);
      } else {
        delta = rng.between(1, 2 * kBucket);  // the served bucket or the next
      }
      d.push((now + Duration::micros(delta)).us(), rng.next_u64());
    } else {
      now = d.pop().time;
    }
    REQUIRE(d.q.size() == d.ref.size());
  }
  d.drain();
}

}  // namespace shardsim::sim
