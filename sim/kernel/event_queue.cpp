#include "sim/kernel/event_queue.h"

#include <utility>

namespace shardsim::sim {

EventQueue::EventQueue() { min_.fill(kNoKey); }

EventQueue::~EventQueue() = default;

EventQueue::EventQueue(EventQueue&& other) noexcept : EventQueue() { swap(other); }

EventQueue& EventQueue::operator=(EventQueue&& other) noexcept {
  EventQueue empty;
  swap(empty);  // our chunks die with `empty`
  swap(other);
  return *this;
}

void EventQueue::swap(EventQueue& other) noexcept {
  std::swap(buckets_, other.buckets_);
  std::swap(min_, other.min_);
  std::swap(nonempty_, other.nonempty_);
  std::swap(size_, other.size_);
  std::swap(base_, other.base_);
  std::swap(next_seq_, other.next_seq_);
  std::swap(last_, other.last_);
  std::swap(free_, other.free_);
  chunks_.swap(other.chunks_);
}

void EventQueue::add_chunk(Bucket& bucket) {
  Chunk* chunk = free_;
  if (chunk != nullptr) {
    free_ = chunk->next;
  } else {
    // Only when more events are pending than ever before: not per event in steady state.
    chunks_.push_back(std::make_unique<Chunk>());
    chunk = chunks_.back().get();
  }
  chunk->next = nullptr;
  if (bucket.tail != nullptr) {
    bucket.tail->next = chunk;
  } else {
    bucket.head = chunk;
    bucket.begin = 0;
  }
  bucket.tail = chunk;
  bucket.end = 0;
}

void EventQueue::drop_head(Bucket& bucket) {
  Chunk* chunk = bucket.head;
  if (chunk == bucket.tail) {
    bucket = Bucket{};
  } else {
    bucket.head = chunk->next;
    bucket.begin = 0;
  }
  release(chunk);
}

void EventQueue::release(Chunk* chunk) {
  chunk->next = free_;
  free_ = chunk;
}

void EventQueue::refill() {
  SHARD_ASSERT(buckets_[0].head == nullptr);
  SHARD_ASSERT(nonempty_ != 0);
  const int source_index = std::countr_zero(nonempty_);
  const Bucket source = buckets_[source_index];
  SHARD_ASSERT(source.begin == 0);  // only bucket 0 is read one event at a time
  base_ = min_[source_index];
  buckets_[source_index] = Bucket{};
  min_[source_index] = kNoKey;
  nonempty_ &= ~(std::uint64_t{1} << source_index);
  // Every event moves to a bucket below source_index (its key agrees with the new base on every bit
  // from source_index - 1 up), and those buckets are all empty, so appending in read order keeps
  // equal-time events in seq order. The minimum, and any ties with it, land in bucket 0. Each chunk
  // goes back to the free list as soon as it is read, so the appends below reuse it while it is
  // hot.
  for (Chunk* chunk = source.head; chunk != nullptr;) {
    const std::uint32_t count = chunk == source.tail ? source.end : kChunkEvents;
    for (std::uint32_t i = 0; i < count; ++i) {
      const Event& e = chunk->events[i];
      const auto key = key_of(e);
      const int b = bucket_of(key);
      if (b != 0) {
        if (key < min_[b]) min_[b] = key;
        nonempty_ |= std::uint64_t{1} << b;
      }
      append(buckets_[b], e);
    }
    Chunk* next = chunk->next;
    release(chunk);
    chunk = next;
  }
  SHARD_ASSERT(buckets_[0].head != nullptr);
}

}  // namespace shardsim::sim
