// Swarm testing (TigerBeetle's VOPR style): per seed, choose which fault kinds are on and how hard
// they hit, so a sweep explores many fault mixes instead of one. Pure function of (spec, seed):
// replaying a swarm run needs only the seed (and --swarm).
//
// Bounds: the scenario's `chaos:` block is the ceiling; without one, the defaults are crash
// 1/min restarting after [5s, 20s], partition 2/min for [1s, 10s], pause 1/min for [100ms, 3s],
// until the run's last 30 s (at least half the run). Per seed, from Rng::stream(seed, "swarm"):
// each kind is on with probability 1/2 (at least one kind always is); an enabled kind's mean
// interval is the ceiling's times 1, 2, 4 or 8 (its rate divided by that); its range keeps its
// minimum and takes 1/4, 1/2 or all of the span up to its maximum. Timeline faults are kept as they
// are. A scenario too small for chaos (fewer than 2 nodes) is returned unchanged.
#pragma once

#include <cstdint>
#include <string>

#include "sim/scenario/spec.h"

namespace shardsim::sim {

struct SwarmChoice {
  scenario::ScenarioSpec spec;  // with the chosen chaos block
  std::string description;      // e.g. "crash 1/120s restart [5s, 8.75s]; pause off; partition ..."
};

SwarmChoice choose_swarm(const scenario::ScenarioSpec& spec, std::uint64_t seed);

}  // namespace shardsim::sim
