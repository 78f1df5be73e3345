// Phase B runner: a cluster of nodes, gateways, a session store and a directory, with the fault
// timeline, chaos and the cluster checkers. run_scenario() dispatches here for cross-node scenarios.
#pragma once

#include "sim/kernel/simulator.h"
#include "sim/runner/runner.h"

namespace shardsim::sim {

RunResult run_cluster(const scenario::ScenarioSpec& spec, const RunOptions& options);

// Shared by both runners: metrics in registry order, then messages by type (those that occurred),
// then `node_metrics` (the cluster runner's node.<name>.* figures; none in Phase A), expectations,
// verdict.
void finish_result(const scenario::ScenarioSpec& spec, RunResult& result,
                   const std::function<double(std::string_view)>& value_of,
                   const Simulator::Stats& net,
                   std::vector<std::pair<std::string, double>> node_metrics = {});

}  // namespace shardsim::sim
