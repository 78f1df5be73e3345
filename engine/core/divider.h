// Divider: n / d for a divisor fixed in advance, as one multiply in the common case. GridAxis: the
// clamped bucket index of a coordinate on one axis of a uniform grid, the same way.
//
// For 0 <= n < 2^32 and 1 < d < 2^32, with m = ceil(2^64 / d), floor(m * n / 2^64) == n / d exactly
// (Lemire, Kaser & Kurz, "Faster remainder by direct computation", 2019, theorem 1 with F = 64,
// N = 32). Other n (negative, wider than 32 bits) and other d fall back to the division, so the
// result is always exactly the built-in `n / d`. Spatial grids divide every coordinate by their
// bucket or cell size on every tick; a 64-bit division costs several times the multiply.
#pragma once

#include <cstdint>

#include "engine/core/assert.h"

namespace shardsim {

class Divider {
 public:
  Divider() = default;  // divides by 1
  explicit Divider(std::int64_t d) : d_{d} {
    SHARD_ASSERT(d > 0);
    if (d > 1 && d <= kMax32) m_ = ~std::uint64_t{0} / static_cast<std::uint64_t>(d) + 1;
  }
  std::int64_t divisor() const { return d_; }
  std::int64_t operator()(std::int64_t n) const {
    if (m_ == 0 || n < 0 || n > kMax32) return n / d_;
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::int64_t>((static_cast<u128>(m_) * static_cast<std::uint64_t>(n)) >> 64);
  }

 private:
  static constexpr std::int64_t kMax32 = 0xffffffff;
  std::int64_t d_{1};
  std::uint64_t m_{0};  // 0: no reciprocal, divide
};

// The bucket of coordinate x on one axis of a grid of n buckets of side `side` starting at `origin`:
// std::clamp(Divider{side}(x - origin), 0, n - 1), exactly. A spatial index computes it for every
// entity on every tick, and most coordinates lie inside the grid short of its last bucket: there the
// quotient needs no clamp and is below 2^32, so one unsigned comparison (which also sends every x
// below the origin aside) and one multiply give it, instead of the Divider's three range tests and
// the clamp's two. Every other x takes the general path.
class GridAxis {
 public:
  GridAxis() = default;  // one bucket of side 1 at 0
  GridAxis(std::int64_t origin, std::int64_t side, std::int64_t n)
      : origin_{origin}, n_{n}, divide_{side} {
    SHARD_ASSERT(n >= 1);
    // u < fast_end_ <= 2^32 keeps u / side < n - 1 and the multiply exact (see Divider).
    if (side > 1 && side <= kMax32 && n - 1 <= (kMax32 + 1) / side) {
      m_ = ~std::uint64_t{0} / static_cast<std::uint64_t>(side) + 1;
      fast_end_ = static_cast<std::uint64_t>((n - 1) * side);
    }
  }
  std::int64_t side() const { return divide_.divisor(); }
  std::int64_t buckets() const { return n_; }
  std::int64_t operator()(std::int64_t x) const {
    const std::uint64_t u = static_cast<std::uint64_t>(x) - static_cast<std::uint64_t>(origin_);
    if (u < fast_end_) {
      __extension__ using u128 = unsigned __int128;
      return static_cast<std::int64_t>((static_cast<u128>(m_) * u) >> 64);
    }
    return general(x);
  }

 private:
  static constexpr std::int64_t kMax32 = 0xffffffff;
  std::int64_t general(std::int64_t x) const {
    const std::int64_t b = divide_(x - origin_);
    return b < 0 ? 0 : (b > n_ - 1 ? n_ - 1 : b);
  }
  std::int64_t origin_{0};
  std::int64_t n_{1};
  Divider divide_;
  std::uint64_t m_{0};
  std::uint64_t fast_end_{0};  // 0: no fast path
};

}  // namespace shardsim
