// LatencySampler: draws one-way message latencies from a LatencySpec, deterministically.
//
// Invariants:
// - The per-draw path is integer-only. Floating-point math (std::log, std::exp, std::sqrt,
//   std::erfc and our own inverse normal CDF) runs once, at construction, to build an inverse-CDF
//   table of kIntervals + 1 knots in whole microseconds. The project compiles with
//   -ffp-contract=off, so the table, and so every sample, has the same bits under g++ and clang++.
// - Every sample consumes exactly one 64-bit draw, whatever the kind (constant too), so switching
//   a link's latency kind never shifts which draw later samples get.
// - Every sample is in [0, kLatencyMax]. Samples are non-decreasing in the draw: a larger u64
//   never yields a smaller latency.
//
// Kinds (see LatencySpec in link.h):
// - constant:  always a.
// - uniform:   integer microseconds uniform on [a, b]; multiply-shift, relative bias <= span/2^64.
// - normal:    mean a, stddev b, truncated at 0 by conditioning: the table is the quantile
//              function of the normal restricted to [0, inf), which is exactly what resampling
//              negative draws would give (no point mass at 0, unlike clamping). stddev 0 means
//              constant a.
// - lognormal: median a, p99 b: mu = ln(a), sigma = (ln(b) - mu) / z(0.99).
//
// Table: knot i sits at probability i / kIntervals, except that the two ends, whose quantiles are
// 0 or infinite, are capped at 1 / (2 * kIntervals) and 1 - 1 / (2 * kIntervals). A draw u picks
// interval u >> 52 and interpolates linearly between its two knots, with the next 32 bits of u as
// the fraction. So no sample exceeds the capped high quantile q(1 - 1/8192) (z = 3.67).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/rng.h"
#include "engine/core/time.h"
#include "net_model/link.h"

namespace shardsim::net {

class LatencySampler {
 public:
  static constexpr int kIntervalBits = 12;
  static constexpr std::uint32_t kIntervals = 1u << kIntervalBits;  // 4096
  // Upper bound on any sample and any table knot; keeps Time arithmetic far from overflow.
  static constexpr Duration kLatencyMax = Duration::seconds(86'400);

  // Asserts the LatencySpec invariants of link.h (and kLatencyMax on its parameters).
  explicit LatencySampler(const LatencySpec& spec);

  // One latency; consumes exactly one rng.next_u64().
  Duration sample(Rng& rng) const { return at(rng.next_u64()); }
  // The latency that the uniform 64-bit draw u maps to. Pure; monotone in u. Inline for the table
  // kinds, which every message of a lognormal or normal link takes (once or more per message).
  Duration at(std::uint64_t u) const {
    // A table exists exactly for normal (stddev > 0) and lognormal; the other kinds are closed-form.
    // u / 2^64 as a fixed-point table position with 32 fraction bits.
    if (!knots_us_.empty()) return Duration::micros(interpolate(u >> (64 - kIntervalBits - 32)));
    return at_closed_form(u);
  }

  Duration median() const { return quantile_ppm(500'000); }
  // The sampled distribution's quantile at ppm / 1e6 (ppm <= 1'000'000), read from the same table
  // the samples come from (so quantile_ppm(0) and quantile_ppm(1'000'000) are the capped ends).
  Duration quantile_ppm(std::uint32_t ppm) const;

  const LatencySpec& spec() const { return spec_; }

 private:
  // Interpolates in the table at a fixed-point position with 32 fraction bits.
  std::int64_t interpolate(std::uint64_t pos) const {
    const auto idx = static_cast<std::size_t>(pos >> 32);
    if (idx >= kIntervals) return knots_us_[kIntervals];
    const std::uint64_t frac = pos & 0xffffffffu;
    const std::int64_t lo = knots_us_[idx];
    const auto delta = static_cast<std::uint64_t>(knots_us_[idx + 1] - lo);
    // floor(delta * frac / 2^32) exactly, without 128-bit arithmetic: delta < 2^37, so
    // (delta >> 32) * frac < 2^37 and (delta & mask) * frac < 2^64.
    const std::uint64_t step = (delta >> 32) * frac + (((delta & 0xffffffffu) * frac) >> 32);
    return lo + static_cast<std::int64_t>(step);
  }
  // at() for the kinds without a table: constant, uniform, normal with stddev 0.
  Duration at_closed_form(std::uint64_t u) const;

  LatencySpec spec_;
  // kIntervals + 1 knots in microseconds, non-decreasing, for normal and lognormal, else empty.
  std::vector<std::int64_t> knots_us_;
};

namespace detail {
// Standard normal quantile: Acklam's rational approximation plus one Halley refinement step using
// std::erfc (relative error ~1e-15). p in (0, 1). Exposed for tests.
double normal_quantile(double p);
// Standard normal CDF, 0.5 * erfc(-x / sqrt(2)).
double normal_cdf(double x);
// High 64 bits of the 128-bit product a * b, without __int128 (which -Wpedantic rejects).
std::uint64_t mul_hi64(std::uint64_t a, std::uint64_t b);
}  // namespace detail

}  // namespace shardsim::net
