#include "tools/bench/kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <queue>

#include "engine/core/assert.h"
#include "engine/core/time.h"
#include "sim/kernel/event_queue.h"

namespace shardsim::bench {
namespace {

constexpr std::uint64_t kSeed = 0x5eed'0000'401dULL;

// Folds every popped (time, seq) into a value the optimizer cannot drop, and that must agree
// between queues: same seed, same draws, same (time, seq) order => same checksum.
std::uint64_t fold(std::uint64_t checksum, std::int64_t time_us, std::uint64_t seq) {
  return (checksum ^ static_cast<std::uint64_t>(time_us)) * 0x100000001b3ULL + seq;
}

struct Popped {
  std::int64_t time_us;
  std::uint64_t seq;
};

// Adapters: push(time) assigns the next insertion sequence; pop() returns the earliest (time, seq).
class RadixQueue {
 public:
  void push(std::int64_t time_us) {
    sim::Event e;
    e.time = Time::from_micros(time_us);
    queue_.push(e);
  }
  Popped pop() {
    const sim::Event e = queue_.pop();
    return {e.time.us(), e.seq};
  }

 private:
  sim::EventQueue queue_;
};

struct TimeSeq {
  std::int64_t time_us;
  std::uint64_t seq;
};

template <class Entry>
class BinaryHeapQueue {
 public:
  void push(std::int64_t time_us) {
    Entry e{};
    set(e, time_us, next_seq_++);
    heap_.push(e);
  }
  Popped pop() {
    const Entry e = heap_.top();
    heap_.pop();
    return get(e);
  }

 private:
  static void set(TimeSeq& e, std::int64_t t, std::uint64_t s) { e = {t, s}; }
  static void set(sim::Event& e, std::int64_t t, std::uint64_t s) {
    e.time = Time::from_micros(t);
    e.seq = s;
  }
  static Popped get(const TimeSeq& e) { return {e.time_us, e.seq}; }
  static Popped get(const sim::Event& e) { return {e.time.us(), e.seq}; }
  static std::int64_t time_of(const TimeSeq& e) { return e.time_us; }
  static std::int64_t time_of(const sim::Event& e) { return e.time.us(); }

  struct Later {
    bool operator()(const Entry& x, const Entry& y) const {
      const std::int64_t tx = time_of(x);
      const std::int64_t ty = time_of(y);
      return tx != ty ? tx > ty : get(x).seq > get(y).seq;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
  std::uint64_t next_seq_{0};
};

struct Run {
  double seconds;
  std::uint64_t checksum;
};

template <class Queue>
Run run_once(std::size_t pending, std::uint64_t ops) {
  Rng rng = Rng::stream(kSeed, "bench.hold");
  Queue queue;
  for (std::size_t i = 0; i < pending; ++i) queue.push(hold_increment_us(rng));
  std::uint64_t checksum = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    const Popped e = queue.pop();
    checksum = fold(checksum, e.time_us, e.seq);
    queue.push(e.time_us + hold_increment_us(rng));
  }
  const auto stop = std::chrono::steady_clock::now();
  return {std::chrono::duration<double>(stop - start).count(), checksum};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

std::vector<HoldResult> run_hold_benchmark(std::size_t pending, std::uint64_t ops, int repeats) {
  SHARD_ASSERT(pending > 0);
  SHARD_ASSERT(repeats > 0);
  using RunFn = Run (*)(std::size_t, std::uint64_t);
  struct Candidate {
    const char* name;
    RunFn run;
    std::vector<double> seconds;
  };
  std::vector<Candidate> candidates = {
      {"radix_heap", &run_once<RadixQueue>, {}},
      {"std_pq_time_seq", &run_once<BinaryHeapQueue<TimeSeq>>, {}},
      {"std_pq_event", &run_once<BinaryHeapQueue<sim::Event>>, {}},
  };
  std::uint64_t expected = 0;
  bool first = true;
  for (int r = 0; r < repeats; ++r) {
    for (Candidate& c : candidates) {
      const Run run = c.run(pending, ops);
      if (first) expected = run.checksum;
      first = false;
      SHARD_ASSERT_MSG(run.checksum == expected, "{} popped a different (time, seq) order", c.name);
      c.seconds.push_back(run.seconds);
    }
  }
  std::vector<HoldResult> results;
  for (const Candidate& c : candidates) {
    const double seconds = median(c.seconds);
    const double rate = seconds > 0 ? static_cast<double>(ops) / seconds : 0.0;
    results.push_back({c.name, pending, ops, seconds, rate});
  }
  return results;
}

}  // namespace shardsim::bench
