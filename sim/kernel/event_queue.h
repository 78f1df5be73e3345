// EventQueue: the kernel's pending-event set, ordered by (time, insertion sequence).
//
// Invariants and rules:
// - Ties run first-in first-out: two events at the same virtual time pop in the order they were
//   pushed.
// - Time is monotone: push() never receives a time earlier than the last popped event's time
//   (asserted). Before the first pop the bound is Time::zero(), so times are never negative.
// - No heap allocation per event in steady state: events live in chunks of one ChunkPool
//   (sim/kernel/event_fifo.h), recycled as they are read, and in the run, a vector that keeps its
//   capacity; both grow only when pending events (or one bucket's) exceed their peak.
// - Memory follows the peak number of pending events: 40 bytes per event, the run's 40 bytes per
//   event of the largest bucket seen, at most one partly written 2.5 KB chunk per FIFO (1024 wheel
//   buckets, 64 heap buckets: ~2.7 MB at worst, a few hundred KB in the kernel's runs) and a fixed
//   ~30 KB for the wheel; never a multiple of the payload.
// - Not thread-safe; one kernel owns one queue.
//
// Structure: three places an event can wait.
// - The wheel: kWheelBuckets FIFOs of kBucketUs microseconds each, indexed by time. With cur_ the
//   index (time / kBucketUs) of the bucket being served, an event whose index i has
//   1 <= i - cur_ < kWheelBuckets is appended to slot i mod kWheelBuckets. A bitmap (a bit per
//   slot, a bit per 64-slot word) finds the earliest non-empty bucket.
// - The run: the bucket being served, sorted. When the run is used up and the earliest wheel
//   bucket starts at or before the heap's minimum, that bucket becomes the run: its events are
//   stably sorted by time (a bucket sort on the low kBucketBits bits: through a bitmap when they
//   fit in one chunk, by counting when more) and cur_ moves to its index.
// - The heap: a monotone radix heap (sim/kernel/radix_heap.h) for everything else: events in
//   bucket cur_ or earlier (pushed while their bucket is served: a message with a tiny latency, a
//   timer due now) and events past the wheel's span (leases, fault schedules, 2^62).
// pop() takes the smaller of the run's front and the heap's minimum by (time, seq).
// - Why: the kernel's traffic is bursts of deliveries a few milliseconds out (lognormal latency,
//   median 2 ms). The radix heap alone moved each of them once per bit of (time ^ base), up to ~15
//   copies of 40 bytes, ~400 instructions per event. Here an event is appended once, sorted once
//   among the few of its 64 us, and read once; the heap sees few events. The counting sort keeps
//   dense buckets (the hold benchmark's 1e6 pending events, ~4500 per bucket) linear.
// - cur_ rises monotonically: to each bucket made the run, and to the bucket of each key popped
//   from the heap (so that after a long jump the wheel serves again).
// - Why wheel slots never alias: a bucket becomes the run, and a heap key is popped, only when no
//   wheel bucket starts earlier; so after either, every wheel event has i > cur_, and each was
//   pushed with i < (cur_ then) + kWheelBuckets <= cur_ + kWheelBuckets. That is fewer than
//   kWheelBuckets indices, one slot each.
//
// Why equal times pop FIFO. Take all events at time t, of bucket i. As cur_ rises, t's pushes pass
// through three phases in this order: far (i - cur_ >= kWheelBuckets: heap), wheel (wheel slot i)
// and served (i <= cur_: heap). The wheel slot keeps push order, the run's sort is stable and by
// time only, and no wheel event of bucket i is left once it becomes the run (cur_ = i from then
// on). Within the heap, equal times pop in arrival order (radix_heap.h), which is push order. And
// pop() compares the run's front with the heap's minimum by (time, seq), so the two interleave in
// seq order.
// tests/sim/event_queue_test.cpp checks this differentially against a binary heap, across the
// wheel's wrap-around, its span, bucket edges and ties between the run and the heap.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "engine/core/assert.h"
#include "engine/core/time.h"
#include "sim/kernel/event.h"
#include "sim/kernel/event_fifo.h"
#include "sim/kernel/radix_heap.h"

namespace shardsim::sim {

class EventQueue {
 public:
  // A wheel bucket spans kBucketUs microseconds and the wheel kNearSpanUs (65.5 ms), so message
  // latencies and 50 ms ticks go through it.
  static constexpr int kBucketBits = 6;
  static constexpr int kWheelBits = 10;
  static constexpr std::int64_t kBucketUs = std::int64_t{1} << kBucketBits;
  static constexpr std::int64_t kNearSpanUs = kBucketUs << kWheelBits;

  EventQueue();
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  // A moved-from queue is empty and reusable.
  EventQueue(EventQueue&& other) noexcept;
  EventQueue& operator=(EventQueue&& other) noexcept;

  // Always inlined: called out of line with the event by value, the caller built the 40-byte
  // argument with scalar stores and copied it with 16-byte loads that straddle them — a failed
  // store-to-load forward on every send (perf: a third of Simulator::send's own samples). Inlined,
  // the fields are stored once, straight into the bucket.
  [[gnu::always_inline]] void push(Event e) {
    SHARD_ASSERT_MSG(e.time >= last_, "push at {}us, before the last popped time {}us", e.time.us(),
                     last_.us());
    e.seq = next_seq_++;
    const auto index = static_cast<std::uint64_t>(e.time.us()) >> kBucketBits;
    if (index - cur_ - 1 < kWheelBuckets - 1) [[likely]] {  // 1 <= index - cur_ < kWheelBuckets
      const auto slot = static_cast<std::uint32_t>(index & kWheelMask);
      wheel_[slot].append(heap_.pool(), e);
      ++counts_[slot];
      words_[slot >> 6] |= std::uint64_t{1} << (slot & 63);
      top_ |= std::uint64_t{1} << (slot >> 6);
      const std::uint64_t start = index << kBucketBits;
      if (start < next_start_) next_start_ = start;
    } else {
      heap_.push(e);
    }
    ++size_;
  }

  Event pop() {
    SHARD_ASSERT(size_ > 0);
    Event e;
    pop_until(Time::from_micros(std::numeric_limits<std::int64_t>::max()), e);
    return e;
  }

  // Pops the next event into `out` if there is one at or before `end`; otherwise pops nothing and
  // returns false. One look at the minimum where next_time() then pop() would make two.
  bool pop_until(Time end, Event& out) {
    if (run_next_ == run_end_) [[unlikely]] {
      if (size_ == 0) return false;
      if (next_start_ <= heap_.next_key()) serve_next_bucket();
    }
    const std::uint64_t heap_key = heap_.next_key();
    if (run_next_ < run_end_) {
      const Event& front = run_[run_next_];
      const auto key = static_cast<std::uint64_t>(front.time.us());
      if (key < heap_key || (key == heap_key && front.seq < heap_.top().seq)) {
        if (front.time > end) return false;
        out = front;
        ++run_next_;
        popped(out.time);
        return true;
      }
    }
    if (end.us() < 0 || heap_key > static_cast<std::uint64_t>(end.us())) return false;
    out = heap_.pop();
    if ((heap_key >> kBucketBits) > cur_) cur_ = heap_key >> kBucketBits;
    popped(out.time);
    return true;
  }

  // The rest of the served bucket: likely (not certainly: the heap may hold earlier events) the
  // next pops, in order. For prefetching, never for order.
  std::span<const Event> likely_next() const { return {run_.data() + run_next_, run_end_ - run_next_}; }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The time of the event pop() would return. The queue must not be empty. Not const: it may
  // make the next bucket the run early, which changes no order.
  Time next_time() {
    SHARD_ASSERT(size_ > 0);
    if (run_next_ == run_end_ && next_start_ <= heap_.next_key()) serve_next_bucket();
    const std::uint64_t heap_key = heap_.next_key();
    if (run_next_ < run_end_ && static_cast<std::uint64_t>(run_[run_next_].time.us()) < heap_key) {
      return run_[run_next_].time;
    }
    return Time::from_micros(static_cast<std::int64_t>(heap_key));
  }

 private:
  static constexpr std::uint64_t kWheelBuckets = std::uint64_t{1} << kWheelBits;
  static constexpr std::uint64_t kWheelMask = kWheelBuckets - 1;
  static constexpr std::uint32_t kWords = kWheelBuckets / 64;
  static_assert(kWords >= 1 && kWords <= 64, "the bitmap's top level is one word");
  static constexpr std::uint64_t kNoKey = RadixHeap::kNoKey;
  static constexpr std::uint32_t kNoSlot = 0xffff'ffff;

  void popped(Time t) {
    last_ = t;
    --size_;
  }
  // The first non-empty wheel slot at or after `from`, wrapping around; kNoSlot if none.
  std::uint32_t next_marked(std::uint32_t from) const;
  // The run is used up: the earliest wheel bucket becomes the run, sorted; cur_ moves to it.
  void serve_next_bucket();
  void swap(EventQueue& other) noexcept;

  RadixHeap heap_;  // owns the chunk pool the wheel's FIFOs use
  std::array<EventFifo, kWheelBuckets> wheel_{};
  std::array<std::uint32_t, kWheelBuckets> counts_{};  // events in each wheel slot
  std::array<std::uint64_t, kWords> words_{};          // bit s: wheel slot s is non-empty
  std::uint64_t top_{0};                               // bit w: words_[w] != 0
  std::uint64_t next_start_{kNoKey};  // start time of the earliest non-empty bucket, kNoKey if none
  std::uint64_t cur_{0};              // index of the bucket being served (see above)
  // The served bucket, sorted by (time, seq), in run_[run_next_, run_end_). The vector only grows
  // (to the largest bucket seen), so serving a bucket neither allocates nor clears.
  std::vector<Event> run_;
  std::size_t run_next_{0};
  std::size_t run_end_{0};
  std::size_t size_{0};
  std::uint64_t next_seq_{0};
  Time last_{Time::zero()};  // the last popped time (zero before any pop)
};

}  // namespace shardsim::sim
