// RadixHeap: the sorting stage of the kernel's EventQueue (sim/kernel/event_queue.h): it pops the
// events it holds in (time, arrival) order.
//
// Invariants and rules:
// - Ties pop first-in first-out: two events with the same time pop in the order they arrived.
//   The heap never looks at Event::seq; the EventQueue feeds it so that arrival order is seq order
//   for every time.
// - Keys are monotone: push() never receives a time earlier than the last popped event's time
//   (asserted). Before the first pop the bound is time zero.
// - Storage is EventFifo chunks from a ChunkPool (sim/kernel/event_fifo.h) that the heap owns and
//   lends to the EventQueue's wheel: no heap allocation per event in steady state, and memory
//   follows the peak number of held events: 40 bytes per event plus at most one partly written
//   chunk per bucket and bucket 0's partly read one (~170 KB).
// - Not thread-safe.
//
// Structure: a monotone radix heap (Ahuja, Mehlhorn, Orlin & Tarjan, 1990) over the int64
// microsecond time. A discrete-event kernel never schedules into the past, so the keys are
// monotone integers and the comparison-based O(log n) of a binary heap is more than we need.
// With `base_` = the last popped time, an event with key k lives in bucket bit_width(k ^ base_):
// bucket 0 holds k == base_, and bucket b > 0 holds the keys that first differ from base_ at
// bit b - 1. pop() serves bucket 0; when it is empty it takes the lowest non-empty bucket i, makes
// its minimum (tracked per bucket) the new base_ and redistributes its events, every one of which
// lands in a bucket strictly below i. An event therefore moves at most once per bit of
// (its key ^ the base when it arrived): O(1) amortized per bit, and in practice a few
// sequential copies, which beats the cache misses of sifting a large binary heap.
//
// Why the bucket invariant survives a base change: when the base moves from L to L' (the minimum
// of bucket i, all buckets below i empty), any event in a bucket j > i has a key that differs
// from L at bit j - 1, while L' agrees with L on every bit >= i; so key ^ L' still has its top
// bit at j - 1 and the event is already in the right bucket. Only bucket i needs redistributing.
//
// Why equal times pop FIFO. Claim: for every time t, all held events with time t sit in one
// bucket, in arrival order. The bucket depends only on (t, base_), so they share a bucket.
// Each bucket is a FIFO, and order holds because (1) push appends the latest arrival to the tail
// of its bucket; (2) a refill reads bucket i from head to tail and appends each event to a bucket
// below i, all of which were empty, so events of equal time keep their relative order and nothing
// interleaves with older ones; (3) bucket 0 is only refilled when drained. Bucket 0 holds exactly
// the events with time == base_ == the minimum held time, so pops run in (time, arrival) order.
// tests/sim/event_queue_test.cpp checks this differentially against a binary heap.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "engine/core/assert.h"
#include "sim/kernel/event.h"
#include "sim/kernel/event_fifo.h"

namespace shardsim::sim {

class RadixHeap {
 public:
  static constexpr std::uint64_t kNoKey = std::numeric_limits<std::uint64_t>::max();

  RadixHeap();
  RadixHeap(const RadixHeap&) = delete;
  RadixHeap& operator=(const RadixHeap&) = delete;

  void push(const Event& e) {
    const auto key = key_of(e);
    SHARD_ASSERT_MSG(key >= base_, "radix heap push at {}us, before its last popped time {}us",
                     e.time.us(), base_);
    const int b = bucket_of(key);
    if (b != 0) {
      if (key < min_[b]) min_[b] = key;
      nonempty_ |= std::uint64_t{1} << b;
    }
    buckets_[b].append(pool_, e);
    ++size_;
  }

  Event pop() {
    SHARD_ASSERT(size_ > 0);
    EventFifo& now = buckets_[0];
    if (now.empty()) refill();
    const Event e = now.front();
    now.pop_front(pool_);
    --size_;
    return e;
  }

  // The event pop() would return. Not const: it may redistribute a bucket (which changes no
  // order). The heap must not be empty.
  const Event& top() {
    SHARD_ASSERT(size_ > 0);
    if (buckets_[0].empty()) refill();
    return buckets_[0].front();
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The time of the event pop() would return, in microseconds; kNoKey when empty.
  std::uint64_t next_key() const {
    if (size_ == 0) return kNoKey;
    if (!buckets_[0].empty()) return base_;
    return min_[std::countr_zero(nonempty_)];
  }

  // The pool the buckets' chunks come from; the EventQueue's wheel shares it.
  ChunkPool& pool() { return pool_; }

  void swap(RadixHeap& other) noexcept;

 private:
  // Keys are non-negative int64, so bucket_of() is at most 63.
  static constexpr int kBucketCount = 64;

  static std::uint64_t key_of(const Event& e) { return static_cast<std::uint64_t>(e.time.us()); }
  // 0 for key == base_, else 1 + the index of the highest bit where key and base_ differ.
  int bucket_of(std::uint64_t key) const { return std::bit_width(key ^ base_); }

  // Bucket 0 is drained: advance base_ to the smallest held key and redistribute its bucket.
  void refill();

  ChunkPool pool_;
  std::array<EventFifo, kBucketCount> buckets_{};
  std::array<std::uint64_t, kBucketCount> min_;  // smallest key in each bucket > 0, kNoKey if empty
  std::uint64_t nonempty_{0};                    // bit b set <=> bucket b > 0 is non-empty
  std::size_t size_{0};
  std::uint64_t base_{0};  // the radix base: the key of the last popped event (0 before any pop)
};

}  // namespace shardsim::sim
