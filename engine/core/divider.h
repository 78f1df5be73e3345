// Divider: n / d for a divisor fixed in advance, as one multiply in the common case.
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

}  // namespace shardsim
