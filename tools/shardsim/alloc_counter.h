// Heap accounting for benchmarks: the shardsim binary replaces global operator new/delete to count
// allocations and live bytes (via malloc_usable_size). Deterministic counters — the same run allocates
// the same bytes — so memory per entity is a number, not a noisy RSS reading.
#pragma once

#include <cstdint>

namespace shardsim::tools {

struct AllocStats {
  std::uint64_t allocations;
  std::int64_t live_bytes;
  std::int64_t peak_bytes;
};

AllocStats alloc_stats();
void reset_alloc_peak();  // peak := live

}  // namespace shardsim::tools
