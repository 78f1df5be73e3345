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
// makes the result exact regardless.
inline std::int64_t isqrt(std::int64_t v) {
  if (v <= 0) return 0;
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(v)));
  while (r > 0 && r > v / r) --r;                 // r*r > v, without overflow
  while ((r + 1) <= v / (r + 1)) ++r;             // (r+1)^2 <= v
  return r;
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
