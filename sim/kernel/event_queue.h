// EventQueue: the kernel's pending-event set, ordered by (time, insertion sequence).
//
// Invariants and rules:
// - Ties run first-in first-out: two events at the same virtual time pop in the order they were
//   pushed.
// - Time is monotone: push() never receives a time earlier than the last popped event's time
//   (asserted). Before the first pop the bound is Time::zero(), so times are never negative.
// - No heap allocation per event in steady state: storage is a pool of fixed-size chunks recycled
//   through a free list; the pool grows only when the number of pending events exceeds its peak.
// - Memory follows the peak number of pending events: 40 bytes per event plus at most one partly
//   written chunk per bucket and bucket 0's partly read one (~170 KB), never a multiple of the
//   payload.
// - Not thread-safe; one kernel owns one queue.
//
// Structure: a monotone radix heap (Ahuja, Mehlhorn, Orlin & Tarjan, 1990) over the int64
// microsecond time. A discrete-event kernel never schedules into the past, so the keys are
// monotone integers and the comparison-based O(log n) of a binary heap is more than we need.
// With `base_` = the last popped time, an event with key k lives in bucket bit_width(k ^ base_):
// bucket 0 holds k == base_, and bucket b > 0 holds the keys that first differ from base_ at
// bit b - 1. pop() serves bucket 0; when it is empty it takes the lowest non-empty bucket i, makes
// its minimum (tracked per bucket) the new base_ and redistributes its events, every one of which
// lands in a bucket strictly below i. An event therefore moves at most once per bit of
// (its key ^ the base when it was pushed): O(1) amortized per bit, and in practice a few
// sequential copies, which beats the cache misses of sifting a large binary heap.
//
// Why the bucket invariant survives a base change: when the base moves from L to L' (the minimum
// of bucket i, all buckets below i empty), any event in a bucket j > i has a key that differs
// from L at bit j - 1, while L' agrees with L on every bit >= i; so key ^ L' still has its top
// bit at j - 1 and the event is already in the right bucket. Only bucket i needs redistributing.
//
// Why equal times pop FIFO. Claim: for every time t, all pending events with time t sit in one
// bucket, in increasing seq order. The bucket depends only on (t, base_), so they share a bucket.
// Each bucket is a FIFO (a list of chunks, appended at the tail, read from the head), and order
// holds because (1) push appends the event with the largest seq so far to the tail of its bucket;
// (2) a refill reads bucket i from head to tail and appends each event to a bucket below i, all
// of which were empty, so events of equal time keep their relative order and nothing interleaves
// with older ones; (3) bucket 0 is only refilled when drained. Bucket 0 holds exactly the events
// with time == base_ == the minimum pending time, so pops run in (time, seq) order.
// tests/sim/event_queue_test.cpp checks this differentially against a binary heap.
//
// Why chunks rather than one std::vector per bucket: a vector keeps its high-water capacity, and
// in a hold workload most of the ~log2(spread) active buckets at some point hold most of the
// events, so per-bucket vectors retained 5-16x the live payload (215 MB for 1e6 pending events of
// 40 bytes). Shared chunks go back to the pool as a refill reads them and are reused, still warm
// in cache, by the buckets it writes to.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "engine/core/assert.h"
#include "engine/core/time.h"

namespace shardsim::sim {

struct Event {
  Time time;
  std::uint64_t seq{0};   // assigned by push()
  std::uint32_t kind{0};  // interpreted by the Simulator
  std::uint32_t host{0};
  std::uint64_t a{0};
  std::uint64_t b{0};
};

class EventQueue {
 public:
  EventQueue();
  ~EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  // A moved-from queue is empty and reusable.
  EventQueue(EventQueue&& other) noexcept;
  EventQueue& operator=(EventQueue&& other) noexcept;

  void push(Event e) {
    SHARD_ASSERT_MSG(e.time >= last_, "push at {}us, before the last popped time {}us", e.time.us(),
                     last_.us());
    e.seq = next_seq_++;
    const auto key = key_of(e);
    const int b = bucket_of(key);
    if (b != 0) {
      if (key < min_[b]) min_[b] = key;
      nonempty_ |= std::uint64_t{1} << b;
    }
    append(buckets_[b], e);
    ++size_;
  }

  Event pop() {
    SHARD_ASSERT(size_ > 0);
    Bucket& now = buckets_[0];
    if (now.head == nullptr) refill();
    const Event e = now.head->events[now.begin++];
    if (now.begin == kChunkEvents || (now.head == now.tail && now.begin == now.end)) {
      drop_head(now);
    }
    --size_;
    last_ = e.time;
    return e;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The time of the event pop() would return. The queue must not be empty.
  Time next_time() const {
    SHARD_ASSERT(size_ > 0);
    if (buckets_[0].head != nullptr) return last_;
    return Time::from_micros(static_cast<std::int64_t>(min_[std::countr_zero(nonempty_)]));
  }

 private:
  // Keys are non-negative int64, so bucket_of() is at most 63.
  static constexpr int kBucketCount = 64;
  static constexpr std::uint32_t kChunkEvents = 64;  // 2.5 KB per chunk
  static constexpr std::uint64_t kNoKey = std::numeric_limits<std::uint64_t>::max();

  struct Chunk {
    std::array<Event, kChunkEvents> events;
    Chunk* next{nullptr};  // toward the tail of the bucket, or the next free chunk
  };
  // A FIFO of events in a singly linked list of chunks. Empty <=> head == nullptr, and then
  // end == kChunkEvents so that the first append takes a chunk.
  struct Bucket {
    Chunk* head{nullptr};
    Chunk* tail{nullptr};
    std::uint32_t begin{0};           // next unread slot of head (only bucket 0 is read one by one)
    std::uint32_t end{kChunkEvents};  // slots written in tail
  };

  static std::uint64_t key_of(const Event& e) { return static_cast<std::uint64_t>(e.time.us()); }
  // 0 for key == base_, else 1 + the index of the highest bit where key and base_ differ.
  int bucket_of(std::uint64_t key) const { return std::bit_width(key ^ base_); }

  void append(Bucket& bucket, const Event& e) {
    if (bucket.end == kChunkEvents) [[unlikely]]
      add_chunk(bucket);
    bucket.tail->events[bucket.end++] = e;
  }

  void add_chunk(Bucket& bucket);  // takes a chunk from the free list (or allocates) for the tail
  void drop_head(Bucket& bucket);  // the head chunk is fully read: return it to the free list
  void release(Chunk* chunk);
  // Bucket 0 is drained: advance base_ to the smallest pending key and redistribute its bucket.
  void refill();
  void swap(EventQueue& other) noexcept;

  std::array<Bucket, kBucketCount> buckets_{};
  std::array<std::uint64_t, kBucketCount> min_;  // smallest key in each bucket > 0, kNoKey if empty
  std::uint64_t nonempty_{0};                    // bit b set <=> bucket b > 0 is non-empty
  std::size_t size_{0};
  std::uint64_t base_{0};  // the radix base: the key of the last popped event (0 before any pop)
  std::uint64_t next_seq_{0};
  Time last_{Time::zero()};  // last popped time; the same value as base_, kept typed for asserts
  Chunk* free_{nullptr};     // free list of chunks, linked through Chunk::next
  std::vector<std::unique_ptr<Chunk>> chunks_;  // owns every chunk, in use or free
};

}  // namespace shardsim::sim
