#include "sim/kernel/event_queue.h"

#include <utility>

namespace shardsim::sim {

EventQueue::EventQueue() = default;

EventQueue::~EventQueue() = default;

EventQueue::EventQueue(EventQueue&& other) noexcept : EventQueue() { swap(other); }

EventQueue& EventQueue::operator=(EventQueue&& other) noexcept {
  EventQueue empty;
  swap(empty);  // our chunks die with `empty`
  swap(other);
  return *this;
}

void EventQueue::swap(EventQueue& other) noexcept {
  heap_.swap(other.heap_);  // with the pool that the wheel's chunks come from
  std::swap(wheel_, other.wheel_);
  std::swap(counts_, other.counts_);
  std::swap(words_, other.words_);
  std::swap(top_, other.top_);
  std::swap(next_start_, other.next_start_);
  std::swap(cur_, other.cur_);
  run_.swap(other.run_);
  std::swap(run_next_, other.run_next_);
  std::swap(run_end_, other.run_end_);
  std::swap(size_, other.size_);
  std::swap(next_seq_, other.next_seq_);
  std::swap(last_, other.last_);
}

std::uint32_t EventQueue::next_marked(std::uint32_t from) const {
  const std::uint32_t w = from >> 6;
  const std::uint64_t here = words_[w] & (~std::uint64_t{0} << (from & 63));
  if (here != 0) return (w << 6) | static_cast<std::uint32_t>(std::countr_zero(here));
  // A later word, or else the lowest marked slot: past the wrap.
  const std::uint64_t later = w + 1 < kWords ? top_ & (~std::uint64_t{0} << (w + 1)) : 0;
  const std::uint64_t words = later != 0 ? later : top_;
  if (words == 0) return kNoSlot;
  const auto first = static_cast<std::uint32_t>(std::countr_zero(words));
  return (first << 6) | static_cast<std::uint32_t>(std::countr_zero(words_[first]));
}

void EventQueue::serve_next_bucket() {
  SHARD_ASSERT(run_next_ == run_end_);
  SHARD_ASSERT(next_start_ != kNoKey);
  const std::uint64_t index = next_start_ >> kBucketBits;
  SHARD_ASSERT(index > cur_);
  const auto slot = static_cast<std::uint32_t>(index & kWheelMask);
  const std::uint32_t count = counts_[slot];
  SHARD_ASSERT(count > 0);
  if (run_.size() < count) run_.resize(count);  // only past the largest bucket so far
  Event* const run = run_.data();
  // The slot's FIFO is in push order; both sorts are stable and by time alone, so the run is in
  // (time, seq) order.
  const auto offset_of = [](const Event& e) {
    return static_cast<std::uint32_t>(e.time.us() & (kBucketUs - 1));
  };
  EventFifo& fifo = wheel_[slot];
  if (count <= kChunkEvents) {
    // At most one chunk's worth, in one chunk: a bucket sort over the kBucketUs offsets, with a
    // bitmap of the occupied offsets and, per offset, a FIFO list of positions in the chunk.
    static_assert(kBucketUs == 64 && kChunkEvents <= 255, "one bitmap word, byte positions");
    const Event* const events = fifo.single_chunk();
    constexpr std::uint8_t kEnd = 0xff;
    std::array<std::uint8_t, kBucketUs> head{};
    std::array<std::uint8_t, kBucketUs> tail{};
    std::array<std::uint8_t, kChunkEvents> next{};
    std::uint64_t occupied = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::uint32_t offset = offset_of(events[i]);
      const auto position = static_cast<std::uint8_t>(i);
      next[i] = kEnd;
      if ((occupied >> offset) & 1) {
        next[tail[offset]] = position;
      } else {
        occupied |= std::uint64_t{1} << offset;
        head[offset] = position;
      }
      tail[offset] = position;
    }
    std::uint32_t k = 0;
    for (; occupied != 0; occupied &= occupied - 1) {
      const auto offset = static_cast<std::uint32_t>(std::countr_zero(occupied));
      for (std::uint8_t i = head[offset]; i != kEnd; i = next[i]) run[k++] = events[i];
    }
    fifo.clear(heap_.pool());
  } else {
    std::array<std::uint32_t, kBucketUs> offsets{};
    fifo.for_each([&](const Event& e) { ++offsets[offset_of(e)]; });
    std::uint32_t sum = 0;
    for (std::uint32_t& o : offsets) sum += std::exchange(o, sum);
    fifo.drain(heap_.pool(), [&](const Event& e) { run[offsets[offset_of(e)]++] = e; });
  }
  run_next_ = 0;
  run_end_ = count;
  counts_[slot] = 0;
  words_[slot >> 6] &= ~(std::uint64_t{1} << (slot & 63));
  if (words_[slot >> 6] == 0) top_ &= ~(std::uint64_t{1} << (slot >> 6));
  cur_ = index;
  // The remaining buckets have indices in (index, index + kWheelBuckets): searching from the next
  // slot around the wheel meets them in index order.
  const auto from = static_cast<std::uint32_t>((index + 1) & kWheelMask);
  const std::uint32_t next = next_marked(from);
  next_start_ = next == kNoSlot ? kNoKey : (index + 1 + ((next - from) & kWheelMask)) << kBucketBits;
}

}  // namespace shardsim::sim
