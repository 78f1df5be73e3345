// Reading fault injection: `faults:` (a timeline of partitions, crashes, pauses, drains, clock
// jumps, isolations and link changes), `chaos:` (seeded random faults until a time) and `bugs:`
// (deliberate protocol bugs that prove the checkers catch what they should).
//
// Internal to sim/scenario. Checks that depend on other sections take them as arguments: `hosts`
// is null when `cluster:` itself is wrong, and `duration` is nullopt when `duration` is wrong; the
// checks that need them are then skipped, so one mistake yields one message, not one per fault.
#pragma once

#include <optional>
#include <vector>

#include "sim/scenario/cluster_reader.h"
#include "sim/scenario/spec.h"
#include "sim/scenario/yaml_reader.h"

namespace shardsim::scenario::detail {

// In file order. Every target names an existing host of the right kind; every `at` lies in
// [0, duration); `for` and `restart_after` appear only on the kinds they apply to.
std::vector<FaultSpec> read_faults(Diagnostics& diag, const Entry& e, const Hosts* hosts,
                                   std::optional<Duration> duration);

// `until` in (0, duration]; each kind has a rate above zero and a [min, max] duration range.
// Chaos needs a cluster of at least two nodes with a gateway.
ChaosSpec read_chaos(Diagnostics& diag, const Entry& e, const Hosts* hosts,
                     std::optional<Duration> duration);

// Known bug names, each at most once.
std::vector<Bug> read_bugs(Diagnostics& diag, const Entry& e);

}  // namespace shardsim::scenario::detail
