#include "sim/runner/swarm.h"

#include <fmt/format.h>

#include "engine/core/rng.h"
#include "sim/scenario/units.h"

namespace shardsim::sim {
namespace {

scenario::ChaosSpec defaults(const scenario::ScenarioSpec& spec) {
  scenario::ChaosSpec c;
  const Duration quiet = Duration::seconds(30);
  const Duration until = spec.duration > quiet * 2 ? spec.duration - quiet : spec.duration / 2;
  c.until = Time::zero() + until;
  c.crash = {Duration::seconds(60), Duration::seconds(5), Duration::seconds(20)};
  c.partition = {Duration::seconds(30), Duration::seconds(1), Duration::seconds(10)};
  c.pause = {Duration::seconds(60), Duration::millis(100), Duration::seconds(3)};
  return c;
}

std::string describe(const char* name, const scenario::ChaosKind& k, const char* range) {
  if (!k.enabled()) return fmt::format("{} off", name);
  return fmt::format("{} every {} on average, {} [{}, {}]", name,
                     scenario::format_duration(k.mean_interval), range,
                     scenario::format_duration(k.min), scenario::format_duration(k.max));
}

}  // namespace

SwarmChoice choose_swarm(const scenario::ScenarioSpec& spec, std::uint64_t seed) {
  SwarmChoice out{spec, {}};
  if (spec.node_names.size() < 2 || !spec.cluster.phase_b()) {
    out.description = "swarm: unchanged (chaos needs a cluster of 2+ nodes)";
    return out;
  }
  const scenario::ChaosSpec ceiling = spec.chaos.enabled() ? spec.chaos : defaults(spec);
  Rng rng = Rng::stream(seed, "swarm");
  scenario::ChaosSpec chosen = ceiling;
  scenario::ChaosKind* kinds[3] = {&chosen.crash, &chosen.partition, &chosen.pause};
  bool any = false;
  for (auto* k : kinds) {
    const bool on = k->enabled() && rng.below(2) == 1;
    if (!on) {
      *k = scenario::ChaosKind{};
      continue;
    }
    any = true;
    k->mean_interval = k->mean_interval * (std::int64_t{1} << rng.below(4));
    static constexpr std::int64_t kSpanQuarters[] = {1, 2, 4};
    k->max = k->min + (k->max - k->min) * kSpanQuarters[rng.below(3)] / 4;
  }
  if (!any) {  // at least one kind: the first the ceiling enables, as the ceiling has it
    const scenario::ChaosKind* ceil[3] = {&ceiling.crash, &ceiling.partition, &ceiling.pause};
    for (int i = 0; i < 3 && !any; ++i)
      if (ceil[i]->enabled()) *kinds[i] = *ceil[i], any = true;
  }
  out.spec.chaos = chosen;
  out.description = fmt::format("swarm (seed {}): until {}; {}; {}; {}", seed,
                                scenario::format_duration(chosen.until - Time::zero()),
                                describe("crash", chosen.crash, "restart after"),
                                describe("partition", chosen.partition, "for"),
                                describe("pause", chosen.pause, "for"));
  return out;
}

}  // namespace shardsim::sim
