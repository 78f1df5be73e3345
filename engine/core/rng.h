// Deterministic pseudo-random numbers: xoshiro256** (Blackman & Vigna, 2018) seeded by splitmix64.
//
// One scenario seed drives everything. Independent streams are derived from (seed, stream name) by
// hashing the name with XXH3-64 and mixing it with the seed through splitmix64, so adding a component
// (a new stream name) never perturbs the numbers any other component draws.
//
// Distribution arithmetic is our own and integer-only on the per-draw path: std::*_distribution
// algorithms differ between standard libraries and would break cross-compiler digests.
#pragma once

#include <cstdint>
#include <string_view>

namespace shardsim {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  // A stream derived from (seed, name). Same inputs, same stream, on every platform.
  static Rng stream(std::uint64_t seed, std::string_view name);
  static Rng stream(std::uint64_t seed, std::string_view name, std::uint64_t index);

  // Inline: the network model draws one or two per message (latency, and the fate of lossy links).
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, bound) without modulo bias (Lemire's multiply-shift with rejection). bound > 0.
  std::uint64_t below(std::uint64_t bound);
  // Uniform in [lo, hi] inclusive. lo <= hi.
  std::int64_t between(std::int64_t lo, std::int64_t hi);
  // True with probability ppm / 1'000'000 (one draw; none when ppm is 0 or >= 1'000'000).
  bool chance_ppm(std::uint32_t ppm) {
    // One draw against a threshold: P = ppm * floor(2^64 / 1e6) / 2^64, within 1e-13 of ppm / 1e6.
    // Probability 0 and 1 draw nothing, so they are exact.
    constexpr std::uint64_t kUnit = UINT64_MAX / 1'000'000;
    if (ppm == 0) return false;
    if (ppm >= 1'000'000) return true;
    return next_u64() < ppm * kUnit;
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

std::uint64_t splitmix64(std::uint64_t& state);

}  // namespace shardsim
