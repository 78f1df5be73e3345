#include "sim/kernel/radix_heap.h"

#include <utility>

namespace shardsim::sim {

RadixHeap::RadixHeap() { min_.fill(kNoKey); }

void RadixHeap::swap(RadixHeap& other) noexcept {
  pool_.swap(other.pool_);
  std::swap(buckets_, other.buckets_);
  std::swap(min_, other.min_);
  std::swap(nonempty_, other.nonempty_);
  std::swap(size_, other.size_);
  std::swap(base_, other.base_);
}

void RadixHeap::refill() {
  SHARD_ASSERT(buckets_[0].empty());
  SHARD_ASSERT(nonempty_ != 0);
  const int source_index = std::countr_zero(nonempty_);
  EventFifo& source = buckets_[source_index];
  SHARD_ASSERT(source.begin == 0);  // only bucket 0 is read one event at a time
  base_ = min_[source_index];
  min_[source_index] = kNoKey;
  nonempty_ &= ~(std::uint64_t{1} << source_index);
  // Every event moves to a bucket below source_index (its key agrees with the new base on every bit
  // from source_index - 1 up), and those buckets are all empty, so appending in read order keeps
  // equal-time events in arrival order. The minimum, and any ties with it, land in bucket 0. Each
  // chunk goes back to the pool as soon as it is read, so the appends below reuse it while it is
  // hot.
  source.drain(pool_, [this](const Event& e) {
    const auto key = key_of(e);
    const int b = bucket_of(key);
    if (b != 0) {
      if (key < min_[b]) min_[b] = key;
      nonempty_ |= std::uint64_t{1} << b;
    }
    buckets_[b].append(pool_, e);
  });
  SHARD_ASSERT(!buckets_[0].empty());
}

}  // namespace shardsim::sim
