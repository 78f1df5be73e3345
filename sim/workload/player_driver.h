// PlayerDriver: a simulated player's intent — where it spawns and where it walks next — for each
// movement model of the scenario format. One RNG stream per player, derived from (seed, player id), so
// players are independent of each other and of everything else in the run.
//
//   random-waypoint     walk to a uniformly random point of the world, pick another on arrival.
//   border-oscillation  walk back and forth across the cell border nearest the spawn point, far enough
//                       past it (hysteresis + 5..25 m) to trigger a handover every crossing.
//   hotspot             head for the hotspot (the spawn hotspot, else the world centre with a radius of a
//                       tenth of the world width), then wander between random points inside it.
#pragma once

#include <optional>

#include "engine/client/game_client.h"
#include "engine/core/rng.h"
#include "sim/scenario/spec.h"

namespace shardsim::sim {

class PlayerDriver final : public Driver {
 public:
  PlayerDriver(const scenario::ScenarioSpec& spec, std::uint64_t seed, std::uint64_t player_id);

  Vec2 spawn() override;
  std::optional<wire::MoveInput> on_position(Vec2 self, Time now) override;

 private:
  Vec2 random_in_world();
  Vec2 random_in_circle(Vec2 center, std::int64_t radius);
  Vec2 clamp(Vec2 p) const;
  Vec2 next_target(Vec2 self);

  const scenario::ScenarioSpec& spec_;
  Rng rng_;
  Vec2 spawn_;
  std::optional<Vec2> target_;
  // border-oscillation endpoints
  Vec2 side_a_;
  Vec2 side_b_;
  bool toward_b_{true};
  bool oscillating_{false};
};

}  // namespace shardsim::sim
