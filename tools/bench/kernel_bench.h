// Kernel benchmark: the classic hold model (Jones, "An empirical comparison of priority-queue and
// event-set implementations", CACM 1986) run over the kernel's EventQueue and bare baselines.
//
// Hold model: prefill `pending` events at random increments from time zero, then `ops` times pop
// the earliest event and push one at (its time + a random increment). The queue size stays at
// `pending`, so the figure isolates the cost of one pop + one push at that size. Only the hold loop
// is timed.
//
// This lives in tools/, which may read the wall clock (std::chrono::steady_clock); engine/ and sim/
// may not. Results are wall-clock measurements and are never asserted on by tests.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/rng.h"

namespace shardsim::bench {

struct HoldResult {
  std::string queue;  // "radix_heap" (sim::EventQueue), "std_pq_time_seq", "std_pq_event"
  std::size_t pending;
  std::uint64_t ops;  // hold operations = events processed (one pop + one push each)
  double seconds;     // wall time of the hold loop
  double events_per_sec;
};

// Runs the hold model over sim::EventQueue, a bare std::priority_queue of (time, seq) pairs (the
// baseline the design budgets against), and a std::priority_queue of full sim::Event (the previous
// temporary implementation). Each result is the median of `repeats` runs; runs of different queues
// are interleaved so that machine noise hits them alike. All queues must pop the identical (time,
// seq) sequence; a checksum of it is compared across queues and repeats (SHARD_ASSERT).
std::vector<HoldResult> run_hold_benchmark(std::size_t pending, std::uint64_t ops, int repeats);

// The mean of hold_increment_us(), in microseconds (approximately; see below).
inline constexpr std::int64_t kHoldIncrementMeanUs = 1040;

// An exponential-ish increment, integer arithmetic only, shared with tools/bench/ns3/ns3_hold.cpp
// so both programs draw the same schedule. With U = u / 2^64 uniform, -ln U = ln 2 * -log2 U: the
// integer part of -log2 U is countl_zero(u) (geometric, P(k) = 2^-(k+1)) and the fraction is
// approximated linearly from the normalized mantissa (2 - m / 2^63). Scaled by 693 ~= 1000 * ln 2,
// the mean is 1.5 * 693 ~= 1040 us; zero increments (ties with "now") occur with probability ~7e-4.
inline std::int64_t hold_increment_us(Rng& rng) {
  const std::uint64_t u = rng.next_u64() | 1;  // | 1: countl_zero <= 63
  const int k = std::countl_zero(u);           // integer part of -log2 U
  const std::uint64_t m = u << k;              // mantissa in [2^63, 2^64)
  const std::uint64_t frac = (0 - m) >> 31;    // (2^64 - m) / 2^31 = (2 - m / 2^63) in 2^-32 units
  const std::uint64_t x = (static_cast<std::uint64_t>(k) << 32) + frac;  // -log2 U, < 2^38
  return static_cast<std::int64_t>((x * 693) >> 32);
}

}  // namespace shardsim::bench
