// EventFifo and ChunkPool: the storage under the kernel's EventQueue (sim/kernel/event_queue.h) and
// its RadixHeap (sim/kernel/radix_heap.h). An EventFifo is a first-in first-out run of events in a
// singly linked list of fixed-size chunks, appended at the tail and read from the head; the chunks
// come from, and go back to, one ChunkPool shared by every FIFO of a queue.
//
// Invariants and rules:
// - Only the head chunk may be partly read and only the tail chunk partly written; an empty FIFO
//   has head == nullptr and end == kChunkEvents, so that the first append takes a chunk.
// - No heap allocation per event in steady state: the pool allocates only when every chunk it
//   has is in use, and a chunk goes back to it as soon as it is read.
// - Why chunks rather than one std::vector per FIFO: a vector keeps its high-water capacity, and a
//   queue's FIFOs take turns holding most of the events, so per-FIFO vectors retained 5-16x the
//   live payload (215 MB for 1e6 pending events of 40 bytes). Shared chunks are reused, still warm
//   in cache, by whichever FIFO is written next.
// - Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/assert.h"
#include "sim/kernel/event.h"

namespace shardsim::sim {

inline constexpr std::uint32_t kChunkEvents = 64;  // 2.5 KB per chunk

// The link first: a FIFO holding one or two events (a sparse wheel bucket) touches one cache line.
struct EventChunk {
  EventChunk* next{nullptr};  // toward the tail of the FIFO, or the next free chunk
  std::array<Event, kChunkEvents> events;
};

class ChunkPool {
 public:
  ChunkPool() = default;
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  // A chunk with next == nullptr, from the free list, or new when every chunk is in use.
  EventChunk* take() {
    EventChunk* chunk = free_;
    if (chunk == nullptr) [[unlikely]]
      return allocate();
    free_ = chunk->next;
    chunk->next = nullptr;
    return chunk;
  }
  void give(EventChunk* chunk) {
    chunk->next = free_;
    free_ = chunk;
  }
  void swap(ChunkPool& other) noexcept {
    std::swap(free_, other.free_);
    chunks_.swap(other.chunks_);
  }

 private:
  EventChunk* allocate() {
    // Only when more events are pending than ever before: not per event in steady state.
    chunks_.push_back(std::make_unique<EventChunk>());
    return chunks_.back().get();
  }

  EventChunk* free_{nullptr};                        // linked through EventChunk::next
  std::vector<std::unique_ptr<EventChunk>> chunks_;  // owns every chunk, in use or free
};

struct EventFifo {
  EventChunk* head{nullptr};
  EventChunk* tail{nullptr};
  std::uint32_t begin{0};           // next unread slot of head
  std::uint32_t end{kChunkEvents};  // slots written in tail

  bool empty() const { return head == nullptr; }

  void append(ChunkPool& pool, const Event& e) {
    if (end == kChunkEvents) [[unlikely]]
      add_chunk(pool);
    tail->events[end++] = e;
  }

  // The oldest event. The FIFO must not be empty.
  const Event& front() const { return head->events[begin]; }
  // Drops the oldest event, giving its chunk back once fully read. The FIFO must not be empty.
  void pop_front(ChunkPool& pool) {
    ++begin;
    if (begin == kChunkEvents || (head == tail && begin == end)) {
      EventChunk* chunk = head;
      if (chunk == tail) {
        *this = EventFifo{};
      } else {
        head = chunk->next;
        begin = 0;
      }
      pool.give(chunk);
    }
  }

  // The events of a FIFO that fits in one chunk, oldest first, for random access. The FIFO must
  // hold between 1 and kChunkEvents events and not be partly read.
  const Event* single_chunk() const {
    SHARD_ASSERT(head != nullptr);
    SHARD_ASSERT(head == tail);
    SHARD_ASSERT(begin == 0);
    return head->events.data();
  }

  // Empties the FIFO, giving its chunks back to the pool.
  void clear(ChunkPool& pool) {
    EventChunk* chunk = head;
    *this = EventFifo{};
    while (chunk != nullptr) {
      EventChunk* const next = chunk->next;
      pool.give(chunk);
      chunk = next;
    }
  }

  // Calls f(event) for every event, oldest first. The FIFO must not be partly read.
  template <class F>
  void for_each(F f) const {
    for (const EventChunk* chunk = head; chunk != nullptr; chunk = chunk->next) {
      const std::uint32_t count = chunk == tail ? end : kChunkEvents;
      for (std::uint32_t i = 0; i < count; ++i) f(chunk->events[i]);
    }
  }

  // Calls f(event) for every event, oldest first, and leaves the FIFO empty. Each chunk goes back
  // to the pool as soon as it is read, so appends made by f reuse it while it is hot. The FIFO
  // must not be partly read.
  template <class F>
  void drain(ChunkPool& pool, F f) {
    EventChunk* chunk = head;
    const EventChunk* const last = tail;
    const std::uint32_t last_end = end;
    *this = EventFifo{};
    while (chunk != nullptr) {
      const std::uint32_t count = chunk == last ? last_end : kChunkEvents;
      EventChunk* const next = chunk->next;
      for (std::uint32_t i = 0; i < count; ++i) f(chunk->events[i]);
      pool.give(chunk);
      chunk = next;
    }
  }

 private:
  void add_chunk(ChunkPool& pool) {
    EventChunk* chunk = pool.take();
    if (tail != nullptr) {
      tail->next = chunk;
    } else {
      head = chunk;
      begin = 0;
    }
    tail = chunk;
    end = 0;
  }
};

}  // namespace shardsim::sim
