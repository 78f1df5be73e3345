#include "sim/workload/player_driver.h"

#include <algorithm>

namespace shardsim::sim {

PlayerDriver::PlayerDriver(const scenario::ScenarioSpec& spec, std::uint64_t seed,
                           std::uint64_t player_id)
    : spec_{spec}, rng_{Rng::stream(seed, "workload.player", player_id)} {}

Vec2 PlayerDriver::clamp(Vec2 p) const {
  return {std::clamp<std::int64_t>(p.x, 0, spec_.world.width_mm - 1),
          std::clamp<std::int64_t>(p.y, 0, spec_.world.height_mm - 1)};
}

Vec2 PlayerDriver::random_in_world() {
  return {rng_.between(0, spec_.world.width_mm - 1), rng_.between(0, spec_.world.height_mm - 1)};
}

Vec2 PlayerDriver::random_in_circle(Vec2 center, std::int64_t radius) {
  for (;;) {  // rejection sampling: exact and integer-only
    const Vec2 offset{rng_.between(-radius, radius), rng_.between(-radius, radius)};
    if (offset.x * offset.x + offset.y * offset.y <= radius * radius) return clamp(center + offset);
  }
}

Vec2 PlayerDriver::spawn() {
  const auto& hs = spec_.players.hotspot;
  if (hs.enabled && rng_.chance_ppm(hs.fraction_ppm))
    spawn_ = random_in_circle(hs.center, hs.radius_mm);
  else
    spawn_ = random_in_world();
  if (spec_.players.movement == scenario::Movement::border_oscillation) {
    // Oscillate across the vertical cell border nearest the spawn point (horizontal if one column).
    const auto& w = spec_.world;
    const std::int64_t reach = w.hysteresis_mm + 5'000 + rng_.between(0, 20'000);
    if (w.cells_x > 1) {
      const std::int64_t cw = w.width_mm / w.cells_x;
      const std::int64_t k = std::clamp<std::int64_t>((spawn_.x + cw / 2) / cw, 1, w.cells_x - 1);
      side_a_ = clamp({k * cw - reach, spawn_.y});
      side_b_ = clamp({k * cw + reach, spawn_.y});
      oscillating_ = true;
    } else if (w.cells_y > 1) {
      const std::int64_t ch = w.height_mm / w.cells_y;
      const std::int64_t k = std::clamp<std::int64_t>((spawn_.y + ch / 2) / ch, 1, w.cells_y - 1);
      side_a_ = clamp({spawn_.x, k * ch - reach});
      side_b_ = clamp({spawn_.x, k * ch + reach});
      oscillating_ = true;
    }
  }
  return spawn_;
}

Vec2 PlayerDriver::next_target(Vec2 self) {
  switch (spec_.players.movement) {
    case scenario::Movement::random_waypoint:
      return random_in_world();
    case scenario::Movement::border_oscillation:
      if (!oscillating_) return random_in_world();
      toward_b_ = !toward_b_;
      return toward_b_ ? side_b_ : side_a_;
    case scenario::Movement::hotspot: {
      const auto& hs = spec_.players.hotspot;
      const Vec2 center = hs.enabled ? hs.center
                                     : Vec2{spec_.world.width_mm / 2, spec_.world.height_mm / 2};
      const std::int64_t radius = hs.enabled ? hs.radius_mm : spec_.world.width_mm / 10;
      (void)self;
      return random_in_circle(center, radius);
    }
  }
  return self;
}

std::optional<wire::MoveInput> PlayerDriver::on_position(Vec2 self, Time /*now*/) {
  if (target_ && self != *target_) return std::nullopt;  // still walking
  target_ = next_target(self);
  // A target where the player already stands would produce no movement, hence no update and no next
  // decision: the player would freeze. Draw again (oscillation sides are never equal).
  for (int i = 0; i < 8 && *target_ == self; ++i) target_ = next_target(self);
  const std::int64_t speed =
      rng_.between(spec_.players.speed_min_mm_s, spec_.players.speed_max_mm_s);
  return wire::MoveInput{*target_, speed};
}

}  // namespace shardsim::sim
