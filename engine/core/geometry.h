// Integer geometry. Positions are millimetres in int64, so every distance comparison is exact and the
// same on every compiler: distances are compared squared, never through sqrt.
#pragma once

#include <cmath>
#include <compare>
#include <cstdint>

namespace shardsim {

struct Vec2 {
  std::int64_t x{0};
  std::int64_t y{0};
  friend constexpr auto operator<=>(const Vec2&, const Vec2&) = default;
  constexpr Vec2 operator+(Vec2 o) const { return {x + o.x, y + o.y}; }
  constexpr Vec2 operator-(Vec2 o) const { return {x - o.x, y - o.y}; }
};

constexpr std::int64_t dist2(Vec2 a, Vec2 b) {
  const std::int64_t dx = a.x - b.x;
  const std::int64_t dy = a.y - b.y;
  return dx * dx + dy * dy;
}

// Integer square root (floor), exact for all int64 inputs >= 0. The double sqrt is only a first guess
// (IEEE 754 sqrt is correctly rounded, so the guess is the same on every platform); the integer fix-up
// makes the result exact regardless. The fix-up squares in 64-bit unsigned arithmetic, which cannot
// overflow: the root of any int64 is below 2^31.5, so (r + 1)^2 < 2^64. (It used to divide, twice
// per call, which showed in every entity's step.)
inline std::int64_t isqrt(std::int64_t v) {
  if (v <= 0) return 0;
  const auto u = static_cast<std::uint64_t>(v);
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(v)));
  if (r > 3'037'000'499) r = 3'037'000'499;  // floor(sqrt(2^63 - 1)): a guess rounded up past it
  while (r * r > u) --r;
  while ((r + 1) * (r + 1) <= u) ++r;
  return static_cast<std::int64_t>(r);
}

// Axis-aligned rectangle [min, max) in millimetres.
struct Rect {
  Vec2 min;
  Vec2 max;
  constexpr bool contains(Vec2 p) const {
    return p.x >= min.x && p.x < max.x && p.y >= min.y && p.y < max.y;
  }
  // Squared distance from p to the rectangle (0 inside).
  constexpr std::int64_t dist2_to(Vec2 p) const {
    const std::int64_t dx = p.x < min.x ? min.x - p.x : (p.x >= max.x ? p.x - (max.x - 1) : 0);
    const std::int64_t dy = p.y < min.y ? min.y - p.y : (p.y >= max.y ? p.y - (max.y - 1) : 0);
    return dx * dx + dy * dy;
  }
};

}  // namespace shardsim
