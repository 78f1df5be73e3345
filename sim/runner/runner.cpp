#include "sim/runner/runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/core/assert.h"
#include "engine/world/world_node.h"
#include "net_model/network.h"
#include "sim/kernel/simulator.h"
#include "sim/runner/cluster_run.h"
#include "sim/runner/faults.h"
#include "sim/runner/message_types.h"
#include "sim/runner/swarm.h"
#include "sim/runner/metrics.h"
#include "sim/runner/tracked.h"
#include "sim/workload/player_driver.h"

namespace shardsim::sim {
namespace {

// Assertion context: a failed SHARD_ASSERT names the virtual time and seed of the run it killed.
const Simulator* g_current = nullptr;
std::string assert_context() {
  if (g_current == nullptr) return {};
  return fmt::format("t={}us seed={}", g_current->now().us(), g_current->seed());
}

NodeConfig node_config(const scenario::ScenarioSpec& spec, std::uint64_t seed) {
  NodeConfig c;
  c.seed = seed;
  c.width_mm = spec.world.width_mm;
  c.height_mm = spec.world.height_mm;
  c.cells_x = spec.world.cells_x;
  c.cells_y = spec.world.cells_y;
  c.aoi_radius_mm = spec.world.aoi_radius_mm;
  c.hysteresis_mm = spec.world.hysteresis_mm;
  c.handover_dwell = spec.world.handover_dwell;
  c.tick = spec.tick;
  c.max_players = static_cast<std::uint32_t>(spec.players.count);
  c.player_speed_max_mm_s = spec.players.speed_max_mm_s;
  c.bots_min = spec.bots.density_min;
  c.bots_max = spec.bots.density_max;
  c.bot_speed_min_mm_s = spec.bots.speed_min_mm_s;
  c.bot_speed_max_mm_s = spec.bots.speed_max_mm_s;
  return c;
}

// Runs the checkers at the end of every node tick.
class CheckingObserver final : public TickObserver {
 public:
  CheckingObserver(ViolationLog& log, const Simulator& sim)
      : authority{log}, oracle{log}, density{log}, sim_{sim} {}
  void on_tick_end(const WorldNode& node, std::uint64_t) override {
    authority.check(node, sim_.now());
    oracle.check(node, sim_.now());
    density.check(node, sim_.now());
  }
  AuthorityChecker authority;
  OracleChecker oracle;
  DensityChecker density;

 private:
  const Simulator& sim_;
};

}  // namespace

bool compare(double actual, scenario::CompareOp op, double value) {
  switch (op) {
    case scenario::CompareOp::lt: return actual < value;
    case scenario::CompareOp::le: return actual <= value;
    case scenario::CompareOp::eq: return actual == value;
    case scenario::CompareOp::ne: return actual != value;
    case scenario::CompareOp::ge: return actual >= value;
    case scenario::CompareOp::gt: return actual > value;
  }
  return false;
}

const char* op_text(scenario::CompareOp op) {
  switch (op) {
    case scenario::CompareOp::lt: return "<";
    case scenario::CompareOp::le: return "<=";
    case scenario::CompareOp::eq: return "==";
    case scenario::CompareOp::ne: return "!=";
    case scenario::CompareOp::ge: return ">=";
    case scenario::CompareOp::gt: return ">";
  }
  return "?";
}

double RunResult::metric(std::string_view name) const {
  for (const auto& [n, v] : metrics)
    if (n == name) return v;
  // A message type that did not occur in the run is not reported: none of it was sent.
  if (const auto m = split_message_metric(name); m && is_message_type(m->type)) return 0;
  // A Phase A run reports no per-node load (like node.load.max, it reads 0); a cluster run reports
  // every node of its scenario, so there a missing one is no node of it.
  if (split_node_metric(name)) {
    const bool per_node = std::any_of(metrics.begin(), metrics.end(), [](const auto& m) {
      return split_node_metric(m.first).has_value();
    });
    SHARD_ASSERT_MSG(!per_node, "no node metric {} in this cluster run", name);
    return 0;
  }
  SHARD_ASSERT_MSG(false, "unknown metric {}", name);
  return 0;
}

std::string RunResult::digest_hex() const { return fmt::format("{:016x}", digest); }

std::string RunResult::replay_command() const {
  return fmt::format("shardsim replay {} --seed {}{} --digest {}", file, seed,
                     swarm_run ? " --swarm" : "", digest_hex());
}

Duration reentry_window(const scenario::ScenarioSpec& spec) {
  const std::int64_t fastest = std::max(spec.players.speed_max_mm_s, spec.bots.speed_max_mm_s);
  return ContinuityChecker::reentry_window_for(spec.world.hysteresis_mm, fastest, spec.tick);
}

void prepare_trace(const RunOptions& options, Trace& trace, Simulator& sim,
                   net::NetworkModel& network, const scenario::ScenarioSpec& spec) {
  if (options.trace_checkpoints != nullptr) trace.keep_checkpoints(options.trace_checkpoints);
  if (options.trace_capture != nullptr) {
    trace.set_host_names([&sim](HostId h) { return sim.host_name(h); });
    trace.capture(options.trace_capture, options.capture_from, options.capture_to);
  }
  static std::uint64_t knob_runs = 0;  // debug knob only: never set in a normal run
  if (options.inject_nondeterminism && knob_runs++ % 2 == 1) {
    sim.at(Time::zero() + spec.duration / 3, [&network, &spec] {
      net::LinkConfig nudged = spec.network;
      nudged.latency.a = nudged.latency.a + Duration::micros(1);
      network.set_default_link(nudged);
    });
  }
}

void finish_result(const scenario::ScenarioSpec& spec, RunResult& result,
                   const std::function<double(std::string_view)>& value_of,
                   const Simulator::Stats& net,
                   std::vector<std::pair<std::string, double>> node_metrics) {
  result.metrics.clear();
  for (const auto& m : kMetrics) result.metrics.emplace_back(std::string{m.name}, value_of(m.name));
  for (const auto& t : messages_by_type(net)) {
    result.metrics.emplace_back(message_count_metric(t.type), static_cast<double>(t.messages));
    result.metrics.emplace_back(message_bytes_metric(t.type), static_cast<double>(t.bytes));
  }
  for (auto& m : node_metrics) result.metrics.push_back(std::move(m));
  result.passed = true;
  result.expectations.clear();
  for (const auto& e : spec.expect) {
    ExpectationResult er{e, result.metric(e.metric), false};
    er.passed = compare(er.actual, e.op, e.value);
    result.passed = result.passed && er.passed;
    result.expectations.push_back(std::move(er));
  }
}

RunResult run_scenario(const scenario::ScenarioSpec& spec, const RunOptions& options) {
  if (options.swarm) {
    const std::uint64_t seed = options.seed.value_or(spec.seed);
    SwarmChoice choice = choose_swarm(spec, seed);
    RunOptions plain = options;
    plain.swarm = false;
    plain.seed = seed;
    RunResult r = run_scenario(choice.spec, plain);
    r.swarm = std::move(choice.description);
    r.swarm_run = true;
    return r;
  }
  if (spec.cluster.phase_b() && spec.cluster.cross_node) return run_cluster(spec, options);
  const auto wall_start = std::chrono::steady_clock::now();
  const std::uint64_t seed = options.seed.value_or(spec.seed);
  RunResult result;
  result.scenario = spec.name;
  result.file = spec.file;
  result.seed = seed;

  // Before the simulator, whose destructor ends the node's process (see Tracked).
  WorldNode* node = nullptr;
  WorldNode::Stats dead;  // counters of node processes a crash ended (their successor starts at 0)

  Trace trace;
  trace.set_hashing(options.hashing);
  net::NetworkModel network{seed, spec.network};
  Simulator sim{seed, network, trace};
  g_current = &sim;
  set_assert_context(&assert_context);

  prepare_trace(options, trace, sim, network, spec);
  ViolationLog log;
  CheckingObserver observer{log, sim};
  const auto players = static_cast<std::uint32_t>(spec.players.count);
  ContinuityChecker continuity{log, players, spec.tick, reentry_window(spec)};

  const NodeConfig config = node_config(spec, seed);
  // Phase A: the first node owns every cell. (Hosts are numbered in creation order: node first.)
  const HostId node_host = sim.add_host(spec.node_names.at(0), [&](Env& env) -> std::unique_ptr<Process> {
    auto p = std::make_unique<WorldNode>(env, config, options.checkers ? &observer : nullptr);
    return std::make_unique<Tracked<WorldNode>>(std::move(p), node, [&](const WorldNode& n) {
      const auto& s = n.stats();
      dead.aoi_messages += s.aoi_messages;
      dead.aoi_bytes += s.aoi_bytes;
      dead.aoi_client_ticks += s.aoi_client_ticks;
      dead.handovers_local += s.handovers_local;
      dead.entities_max = std::max(dead.entities_max, s.entities_max);
    });
  });
  ClientScratch client_scratch;  // the clients run one at a time: one set of buffers, always warm
  std::vector<std::unique_ptr<PlayerDriver>> drivers;
  std::vector<GameClient*> clients(players, nullptr);
  drivers.reserve(players);
  for (std::uint32_t i = 0; i < players; ++i) {
    drivers.push_back(std::make_unique<PlayerDriver>(spec, seed, i + 1));
    sim.add_host(fmt::format("client-{}", i + 1), [&, i](Env& env) {
      auto c = std::make_unique<GameClient>(env, node_host, i + 1, *drivers[i],
                                            options.checkers ? &continuity : nullptr,
                                            config.channel,
                                            ClientOptions{.via_gateway = false,
                                                          .action_every = spec.players.action_every,
                                                          .scratch = &client_scratch});
      clients[i] = c.get();
      return c;
    });
  }

  // Faults on the one node (Phase A, or `cluster.cross_node: false`, where node-1 owns every cell
  // and the other hosts of the cluster do not exist): crash, pause and clock jumps apply; faults
  // naming other hosts, and a drain (there is nowhere to drain to), have nothing to act on.
  // They are skipped, and said so (RunResult::notes), so that a run with `cross_node: false` is not
  // mistaken for one that survived them.
  std::vector<RealizedFault> faults;
  std::size_t chaos_skipped = 0;
  for (auto& f : realize_faults(spec, seed)) {
    const auto& k = f.spec.kind;
    const bool on_node = f.spec.on == scenario::FaultEvent::none &&
                         (k == scenario::FaultKind::crash || k == scenario::FaultKind::pause ||
                          k == scenario::FaultKind::clock_jump) &&
                         f.spec.host == spec.node_names.at(0);
    if (on_node) {
      faults.push_back(std::move(f));
    } else if (f.from_chaos) {
      ++chaos_skipped;
    } else {
      const auto& loc = f.spec.loc;
      result.notes.push_back(fmt::format(
          "{}:{}:{}: note: this {} fault has nothing to act on in a one-node run (only timed crash, "
          "pause and clock_jump faults of {} apply): skipped",
          loc.file, loc.line, loc.column, fault_kind_key(k), spec.node_names.at(0)));
    }
  }
  if (chaos_skipped > 0)
    result.notes.push_back(fmt::format(
        "note: {} chaos fault(s) on nodes other than {} skipped: only {} runs in a one-node run",
        chaos_skipped, spec.node_names.at(0), spec.node_names.at(0)));
  struct NoHooks final : FaultHooks {
    void drain(HostId) override {}
  } no_hooks;
  schedule_faults(sim, network, faults, [&](const std::string&) { return node_host; }, no_hooks,
                  nullptr);

  std::FILE* trace_file = nullptr;
  if (!options.trace_path.empty()) {
    trace_file = std::fopen(options.trace_path.c_str(), "w");
    if (trace_file == nullptr)
      throw std::runtime_error(fmt::format("cannot write trace file {}", options.trace_path));
    trace.attach_jsonl(trace_file, [&](HostId h) { return sim.host_name(h); });
  }

  sim.start();
  sim.run_until(Time::zero() + spec.duration);
  if (trace_file != nullptr) std::fclose(trace_file);

  // Metrics, in registry order.
  // The live node's counters (plus the main ones of any process a crash ended).
  WorldNode::Stats ns = node != nullptr ? node->stats() : WorldNode::Stats{};
  ns.aoi_messages += dead.aoi_messages;
  ns.aoi_bytes += dead.aoi_bytes;
  ns.aoi_client_ticks += dead.aoi_client_ticks;
  ns.handovers_local += dead.handovers_local;
  ns.entities_max = std::max(ns.entities_max, dead.entities_max);
  const auto& ss = sim.stats();
  std::uint64_t client_inputs = 0;
  std::uint64_t client_decode_errors = 0;
  std::uint64_t actions_acked = 0;
  for (const auto* c : clients) {
    client_inputs += c->stats().inputs;
    client_decode_errors += c->stats().decode_errors;
    actions_acked += c->actions_acked();
  }
  auto value_of = [&](std::string_view name) -> double {
    if (name == "players.lost") return static_cast<double>(observer.authority.lost());
    if (name == "players.duplicated") return static_cast<double>(observer.authority.duplicated());
    if (name == "aoi.continuity_violations") return static_cast<double>(continuity.violations());
    if (name == "aoi.reentries") return static_cast<double>(continuity.reentries());
    if (name == "aoi.oracle_mismatches") return static_cast<double>(observer.oracle.mismatches());
    if (name == "aoi.oracle_views") return static_cast<double>(observer.oracle.views_checked());
    if (name == "aoi.messages") return static_cast<double>(ns.aoi_messages);
    if (name == "aoi.bytes") return static_cast<double>(ns.aoi_bytes);
    if (name == "aoi.bytes_per_client_tick")
      return ns.aoi_client_ticks == 0
                 ? 0.0
                 : static_cast<double>(ns.aoi_bytes * 100 / ns.aoi_client_ticks) / 100.0;
    if (name == "aoi.enters") return static_cast<double>(ns.aoi_enters);
    if (name == "aoi.leaves") return static_cast<double>(ns.aoi_leaves);
    if (name == "handover.local.count") return static_cast<double>(ns.handovers_local);
    if (name == "bots.spawned") return static_cast<double>(ns.bots_spawned);
    if (name == "bots.despawned") return static_cast<double>(ns.bots_despawned);
    if (name == "bots.density_violations") return static_cast<double>(observer.density.violations());
    if (name == "entities.max") return static_cast<double>(ns.entities_max);
    if (name == "events") return static_cast<double>(sim.events_executed());
    if (name == "net.messages") return static_cast<double>(ss.sent);
    if (name == "net.bytes") return static_cast<double>(ss.bytes);
    if (name == "net.dropped") return static_cast<double>(ss.dropped);
    if (name == "net.duplicated") return static_cast<double>(ss.duplicated);
    if (name == "net.decode_errors")
      return static_cast<double>(ns.decode_errors + client_decode_errors);
    if (name == "channel.retransmits") return static_cast<double>(ns.retransmits);
    if (name == "channel.overflows") return static_cast<double>(ns.channel_overflows);
    if (name == "client.inputs") return static_cast<double>(client_inputs);
    if (name == "client.view_lag.max") return static_cast<double>(continuity.max_lag().us()) / 1000.0;
    if (name == "ledger.actions_acked") return static_cast<double>(actions_acked);
    if (name == "liveness.checked") return 0;
    for (const auto& m : kMetrics)  // Phase B metrics: nothing of the kind happens on one node
      if (m.name == name) return 0;
    SHARD_ASSERT_MSG(false, "metric {} has no source", name);
    return 0;
  };
  finish_result(spec, result, value_of, ss);

  result.digest = trace.digest();
  result.trace_records = trace.records();
  result.events = sim.events_executed();
  result.sim_seconds = static_cast<double>(spec.duration.us()) / 1e6;
  result.violations = log.first();
  result.violation_count = log.total();
  result.passed = result.passed && log.total() == 0;
  g_current = nullptr;
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace shardsim::sim
