#include "engine/core/rng.h"

#include <xxhash.h>

#include "engine/core/assert.h"

namespace shardsim {
namespace {
__extension__ typedef unsigned __int128 u128;  // full 64x64 product (GCC/Clang)
}  // namespace

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(std::uint64_t seed) {
  std::uint64_t sm = seed;
  for (auto& word : s_) word = splitmix64(sm);
}

Rng Rng::stream(std::uint64_t seed, std::string_view name) {
  return Rng{seed ^ XXH3_64bits(name.data(), name.size())};
}

Rng Rng::stream(std::uint64_t seed, std::string_view name, std::uint64_t index) {
  std::uint64_t mix = index;
  return Rng{seed ^ XXH3_64bits(name.data(), name.size()) ^ splitmix64(mix)};
}

std::uint64_t Rng::below(std::uint64_t bound) {
  SHARD_ASSERT(bound > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  u128 m = static_cast<u128>(next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<u128>(next_u64()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::int64_t Rng::between(std::int64_t lo, std::int64_t hi) {
  SHARD_ASSERT(lo <= hi);
  // Unsigned arithmetic: hi - lo overflows int64 for ranges wider than INT64_MAX.
  const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
  if (span == 0) return static_cast<std::int64_t>(next_u64());  // full 64-bit range
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + below(span));
}

}  // namespace shardsim
