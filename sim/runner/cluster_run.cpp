#include "sim/runner/cluster_run.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/cluster/directory.h"
#include "engine/cluster/gateway.h"
#include "engine/cluster/protocol.h"
#include "engine/cluster/session_store.h"
#include "engine/core/assert.h"
#include "engine/core/rng.h"
#include "engine/world/world_node.h"
#include "net_model/network.h"
#include "sim/checkers/cluster_checker.h"
#include "sim/checkers/cluster_oracle.h"
#include "sim/kernel/simulator.h"
#include "sim/runner/faults.h"
#include "sim/runner/metrics.h"
#include "sim/runner/node_load.h"
#include "sim/runner/tracked.h"
#include "sim/workload/player_driver.h"

namespace shardsim::sim {
namespace {

const Simulator* g_current = nullptr;
std::string assert_context() {
  if (g_current == nullptr) return {};
  return fmt::format("t={}us seed={}", g_current->now().us(), g_current->seed());
}

bool has_bug(const scenario::ScenarioSpec& spec, scenario::Bug b) {
  return std::find(spec.bugs.begin(), spec.bugs.end(), b) != spec.bugs.end();
}

void add_stats(WorldNode::Stats& to, const WorldNode::Stats& s) {
  to.handovers_local += s.handovers_local;
  to.aoi_messages += s.aoi_messages;
  to.aoi_bytes += s.aoi_bytes;
  to.aoi_enters += s.aoi_enters;
  to.aoi_leaves += s.aoi_leaves;
  to.aoi_client_ticks += s.aoi_client_ticks;
  to.bots_spawned += s.bots_spawned;
  to.bots_despawned += s.bots_despawned;
  to.decode_errors += s.decode_errors;
  to.channel_overflows += s.channel_overflows;
  to.retransmits += s.retransmits;
  to.entities_max += s.entities_max;
  to.handovers_started += s.handovers_started;
  to.players_restored += s.players_restored;
  to.auth_rejected += s.auth_rejected;
  to.fences += s.fences;
  to.migrations_in += s.migrations_in;
}

void add_stats(cluster::Gateway::Stats& to, const cluster::Gateway::Stats& s) {
  to.buffered_max = std::max(to.buffered_max, s.buffered_max);
  to.buffer_dropped += s.buffer_dropped;
  to.rejected += s.rejected;
}

// Nearest-rank percentile of sorted samples, in ms.
double percentile_ms(const std::vector<Duration>& sorted, int pct) {
  if (sorted.empty()) return 0;
  std::size_t rank = (sorted.size() * static_cast<std::size_t>(pct) + 99) / 100;
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1].us()) / 1000.0;
}

}  // namespace

RunResult run_cluster(const scenario::ScenarioSpec& spec, const RunOptions& options) {
  const auto wall_start = std::chrono::steady_clock::now();
  const std::uint64_t seed = options.seed.value_or(spec.seed);
  RunResult result;
  result.scenario = spec.name;
  result.file = spec.file;
  result.seed = seed;

  // Declared before the simulator: its destructor ends the processes, whose Tracked wrappers write
  // their counters and clear their slots here.
  std::vector<WorldNode*> nodes(spec.node_names.size(), nullptr);
  WorldNode::Stats ns;  // every node process's counters, dead ones included
  std::vector<cluster::Gateway*> gateways(static_cast<std::size_t>(spec.cluster.gateways), nullptr);
  cluster::Gateway::Stats gs;

  Trace trace;
  trace.set_hashing(options.hashing);
  net::NetworkModel network{seed, spec.network};
  Simulator sim{seed, network, trace};
  g_current = &sim;
  set_assert_context(&assert_context);
  prepare_trace(options, trace, sim, network, spec);

  const auto n_nodes = static_cast<std::uint32_t>(spec.node_names.size());
  const auto n_gateways = static_cast<std::uint32_t>(spec.cluster.gateways);
  const auto players = static_cast<std::uint32_t>(spec.players.count);
  const auto n_cells = static_cast<std::uint32_t>(spec.world.cells_x * spec.world.cells_y);
  const std::uint64_t auth_key = Rng::stream(seed, "cluster.auth").next_u64();

  ViolationLog log;
  ClusterChecker::Config cc;
  cc.nodes = n_nodes;
  cc.cells = n_cells;
  cc.players = players;
  cc.transit_bound = spec.cluster.lease + spec.cluster.heartbeat * 4 + Duration::seconds(1);
  const Time& now_ref = sim.now_ref();
  ClusterChecker checker{log, now_ref, cc};
  ContinuityChecker continuity{log, players, spec.tick, reentry_window(spec)};
  DensityChecker density{log};
  // What the clients see goes to the continuity checker; the acknowledgements of their durable
  // actions to the cluster checker.
  struct ClientTap final : StreamObserver {
    ClientTap(ContinuityChecker& c, ClusterChecker& k) : continuity{c}, cluster{k} {}
    void on_batch(std::uint64_t player, const wire::AoiBatch& batch, Time now) override {
      continuity.on_batch(player, batch, now);
    }
    void on_reset(std::uint64_t player, Time now) override { continuity.on_reset(player, now); }
    void on_actions_acked(std::uint64_t player, std::uint64_t seq) override {
      cluster.on_actions_acked(player, seq);
    }
    ContinuityChecker& continuity;
    ClusterChecker& cluster;
  } client_tap{continuity, checker};
  struct DensityObserver final : TickObserver {
    DensityObserver(DensityChecker& d, const Simulator& s) : density{d}, sim{s} {}
    void on_tick_end(const WorldNode& node, std::uint64_t) override { density.check(node, sim.now()); }
    DensityChecker& density;
    const Simulator& sim;
  } density_observer{density, sim};
  // Protocol events reach the checker through the fault triggers (faults with `on:`).
  const auto faults = realize_faults(spec, seed);
  const bool triggered = std::any_of(faults.begin(), faults.end(), [](const RealizedFault& f) {
    return f.spec.on != scenario::FaultEvent::none;
  });
  FaultTriggers triggers{spec.node_names, options.checkers ? &checker : nullptr};
  cluster::ClusterObserver* cobs =
      triggered ? &triggers : options.checkers ? static_cast<cluster::ClusterObserver*>(&checker)
                                               : nullptr;

  // Hosts: directory, store, nodes, gateways, clients (creation order is part of the digest).
  std::vector<HostId> node_hosts(n_nodes);
  std::vector<HostId> gateway_hosts(n_gateways);
  const HostId directory_host{0};
  const HostId store_host{1};
  for (std::uint32_t i = 0; i < n_nodes; ++i) node_hosts[i] = HostId{2 + i};
  for (std::uint32_t i = 0; i < n_gateways; ++i) gateway_hosts[i] = HostId{2 + n_nodes + i};

  cluster::DirectoryState directory_state;
  cluster::DirectoryConfig dc;
  dc.cells = n_cells;
  dc.nodes = node_hosts;
  dc.gateways = gateway_hosts;
  dc.ttl = spec.cluster.lease;
  dc.margin = spec.cluster.clock_drift_max;
  dc.settle = spec.cluster.heartbeat * 2;
  dc.policy = spec.cluster.assignment == scenario::Assignment::rendezvous ? cluster::Policy::rendezvous
                                                                          : cluster::Policy::least_loaded;
  dc.auth_key = auth_key;
  SHARD_ASSERT(sim.add_host("directory", [&](Env& env) {
    return std::make_unique<cluster::Directory>(env, dc, directory_state);
  }) == directory_host);

  cluster::StoreState store_state;
  cluster::StoreConfig sc;
  sc.max_players = players;
  sc.nodes = node_hosts;
  sc.auth_key = auth_key;
  SHARD_ASSERT(sim.add_host("store", [&](Env& env) {
    return std::make_unique<cluster::SessionStore>(env, sc, store_state);
  }) == store_host);

  NodeConfig base;
  base.seed = seed;
  base.width_mm = spec.world.width_mm;
  base.height_mm = spec.world.height_mm;
  base.cells_x = spec.world.cells_x;
  base.cells_y = spec.world.cells_y;
  base.aoi_radius_mm = spec.world.aoi_radius_mm;
  base.hysteresis_mm = spec.world.hysteresis_mm;
  base.handover_dwell = spec.world.handover_dwell;
  base.tick = spec.tick;
  base.max_players = players;
  base.player_speed_max_mm_s = spec.players.speed_max_mm_s;
  base.bots_min = spec.bots.density_min;
  base.bots_max = spec.bots.density_max;
  base.bot_speed_min_mm_s = spec.bots.speed_min_mm_s;
  base.bot_speed_max_mm_s = spec.bots.speed_max_mm_s;
  auto& cl = base.cluster;
  cl.enabled = true;
  cl.nodes = node_hosts;
  cl.gateways = gateway_hosts;
  cl.store = store_host;
  cl.directory = directory_host;
  cl.lease = spec.cluster.lease;
  cl.heartbeat = spec.cluster.heartbeat;
  cl.checkpoint = spec.cluster.checkpoint;
  cl.drift_allowance = spec.cluster.clock_drift_max;
  cl.auth_key = auth_key;
  cl.bug_skip_lease_check = has_bug(spec, scenario::Bug::skip_lease_check);
  cl.bug_ack_before_durable = has_bug(spec, scenario::Bug::ack_before_durable);
  cl.bug_unfenced_abort = has_bug(spec, scenario::Bug::unfenced_abort);
  cl.bug_ghost_gap = has_bug(spec, scenario::Bug::ghost_gap);
  cl.bug_ghost_no_corners = has_bug(spec, scenario::Bug::ghost_no_corners);

  for (std::uint32_t i = 0; i < n_nodes; ++i) {
    SHARD_ASSERT(sim.add_host(spec.node_names[i], [&, i](Env& env) -> std::unique_ptr<Process> {
      NodeConfig c = base;
      c.cluster.index = i + 1;
      auto p = std::make_unique<WorldNode>(env, std::move(c),
                                           options.checkers ? &density_observer : nullptr, cobs);
      return std::make_unique<Tracked<WorldNode>>(std::move(p), nodes[i],
                                                  [&](const WorldNode& n) { add_stats(ns, n.stats()); });
    }) == node_hosts[i]);
  }
  cluster::GatewayConfig gc;
  gc.max_players = players;
  gc.cell_width_mm = spec.world.cell_width_mm();
  gc.cell_height_mm = spec.world.cell_height_mm();
  gc.cells_x = spec.world.cells_x;
  gc.cells_y = spec.world.cells_y;
  gc.nodes = node_hosts;
  gc.directory = directory_host;
  gc.poll = spec.cluster.heartbeat;
  gc.node_timeout = spec.cluster.heartbeat * 4;
  gc.auth_key = auth_key;
  for (std::uint32_t i = 0; i < n_gateways; ++i) {
    SHARD_ASSERT(sim.add_host(fmt::format("gateway-{}", i + 1), [&, i](Env& env) -> std::unique_ptr<Process> {
      auto g = std::make_unique<cluster::Gateway>(env, gc, cobs);
      return std::make_unique<Tracked<cluster::Gateway>>(
          std::move(g), gateways[i], [&](const cluster::Gateway& d) { add_stats(gs, d.stats()); });
    }) == gateway_hosts[i]);
  }

  ClientScratch client_scratch;  // the clients run one at a time: one set of buffers, always warm
  ClientOptions copts;
  copts.via_gateway = true;
  copts.action_every = spec.players.action_every;
  copts.scratch = &client_scratch;
  std::vector<std::unique_ptr<PlayerDriver>> drivers;
  std::vector<GameClient*> clients(players, nullptr);
  std::vector<std::uint32_t> gateway_of(players, 0);
  drivers.reserve(players);
  for (std::uint32_t i = 0; i < players; ++i) {
    drivers.push_back(std::make_unique<PlayerDriver>(spec, seed, i + 1));
    gateway_of[i] = i % n_gateways;
    sim.add_host(fmt::format("client-{}", i + 1), [&, i](Env& env) {
      auto c = std::make_unique<GameClient>(env, gateway_hosts[gateway_of[i]], i + 1, *drivers[i],
                                            options.checkers ? &client_tap : nullptr,
                                            base.channel, copts);
      clients[i] = c.get();
      return c;
    });
  }

  // Faults.
  auto host_of = [&](const std::string& name) -> HostId {
    if (name == "directory") return directory_host;
    if (name == "store") return store_host;
    for (std::uint32_t i = 0; i < n_nodes; ++i)
      if (spec.node_names[i] == name) return node_hosts[i];
    for (std::uint32_t i = 0; i < n_gateways; ++i)
      if (fmt::format("gateway-{}", i + 1) == name) return gateway_hosts[i];
    SHARD_ASSERT_MSG(false, "no host named {}", name);
    return HostId{};
  };
  struct Hooks final : FaultHooks {
    Simulator& sim;
    ClusterChecker& checker;
    ContinuityChecker& continuity;
    Duration settle;
    std::vector<HostId>& node_hosts;
    std::vector<WorldNode*>& nodes;
    int active{0};
    Time last_end;  // the last fault transition known so far (triggered faults move it)
    std::function<void()> on_last_end_moved;
    Hooks(Simulator& s, ClusterChecker& c, ContinuityChecker& k, Duration d, std::vector<HostId>& h,
          std::vector<WorldNode*>& n)
        : sim{s}, checker{c}, continuity{k}, settle{d}, node_hosts{h}, nodes{n} {}
    void drain(HostId h) override {
      for (std::size_t i = 0; i < node_hosts.size(); ++i)
        if (node_hosts[i] == h && nodes[i] != nullptr) nodes[i]->drain();
    }
    void on_fault(const RealizedFault& f, bool begin) override {
      if (fault_has_end(f.spec)) active += begin ? 1 : -1;
      // Faults excuse spurious leave/enter until the cluster has settled (ContinuityChecker); a
      // planned drain does not.
      if (f.spec.kind != scenario::FaultKind::drain) {
        if (!fault_has_end(f.spec))
          continuity.disturbance_at(sim.now() + settle);
        else if (begin)
          continuity.disturbance_begin();
        else
          continuity.disturbance_end(sim.now() + settle);
      }
      if (begin && fault_end(f.spec) > last_end) {
        last_end = fault_end(f.spec);
        if (on_last_end_moved) on_last_end_moved();
      }
      if (f.spec.kind == scenario::FaultKind::crash && begin) {
        for (std::uint32_t i = 0; i < node_hosts.size(); ++i)
          if (sim.host_name(node_hosts[i]) == f.spec.host) checker.on_node_down(i + 1);
      }
    }
  } hooks{sim, checker, continuity, cc.transit_bound, node_hosts, nodes};
  hooks.last_end = last_fault_end(faults);
  schedule_faults(sim, network, faults, host_of, hooks, triggered ? &triggers : nullptr);

  // Checkers and the per-node load samples (every NodeLoad::kEvery): a sweep every tick, half a
  // tick off the nodes' tick grid. It only reads; without the checkers it only samples the load.
  std::vector<WorldNode*> running(n_nodes, nullptr);
  auto refresh_running = [&] {
    for (std::uint32_t i = 0; i < n_nodes; ++i)
      running[i] = sim.is_up(node_hosts[i]) && !sim.is_paused(node_hosts[i]) ? nodes[i] : nullptr;
  };
  const Time end = Time::zero() + spec.duration;
  NodeLoad load{n_nodes};
  // The AOI oracle samples once a second, or more rarely if a departed copy (NodeConfig::
  // departed_for(): 4 heartbeats + the ghost TTL) or a witness hold lasts longer, so that what it
  // flags outlived every bound the protocol sets itself.
  ClusterOracle::Config oc;
  oc.width_mm = spec.world.width_mm;
  oc.height_mm = spec.world.height_mm;
  oc.radius_mm = base.aoi_radius_mm;
  oc.outer_mm = base.aoi_outer_mm();
  oc.margin_mm =
      ClusterOracle::margin_for(base.max_speed_mm_s(), base.witness_hold() + spec.tick * 2);
  oc.players = players;
  ClusterOracle oracle{log, oc};
  const Duration oracle_every_d =
      std::max(Duration::seconds(1), std::max(base.departed_for(), base.witness_hold()) + spec.tick);
  const std::int64_t oracle_every = (oracle_every_d.us() + spec.tick.us() - 1) / spec.tick.us();
  std::int64_t sweeps = 0;
  std::function<void()> sweep = [&] {
    refresh_running();
    if (options.checkers) checker.sweep(running, hooks.active > 0);
    if (options.checkers && sweeps++ % oracle_every == 0)
      oracle.sample(running, sim.now(), continuity.quiet(sim.now()));
    load.sample(sim.now(), running);
    if (sim.now() + spec.tick < end) sim.at(sim.now() + spec.tick, sweep);
  };
  sim.at(Time::zero() + spec.tick / 2, sweep);
  if (options.checkers) {
    // Liveness: some time after the last fault ends, and confirmed two seconds later. A fault
    // triggered by a protocol event moves the last end; the check moves with it (a planned check
    // of an older plan does nothing).
    auto liveness_plan = std::make_shared<std::uint64_t>(0);
    auto plan_liveness = [&, liveness_plan] {
      const std::uint64_t plan = ++*liveness_plan;
      checker.liveness_replanned();
      const Time liveness_at = hooks.last_end + spec.cluster.lease * 2 + Duration::seconds(6);
      for (const bool confirm : {false, true}) {
        const Time at = liveness_at + (confirm ? Duration::seconds(2) : Duration::zero());
        if (at >= end) break;
        sim.at(at, [&, confirm, plan, liveness_plan] {
          if (plan != *liveness_plan) return;
          refresh_running();
          std::vector<cluster::Gateway*> gws(n_gateways);
          for (std::uint32_t i = 0; i < n_gateways; ++i)
            gws[i] = sim.is_up(gateway_hosts[i]) ? gateways[i] : nullptr;
          checker.check_liveness(running, gws, gateway_of, confirm);
        });
      }
    };
    plan_liveness();
    hooks.on_last_end_moved = plan_liveness;
  }

  std::FILE* trace_file = nullptr;
  if (!options.trace_path.empty()) {
    trace_file = std::fopen(options.trace_path.c_str(), "w");
    if (trace_file == nullptr)
      throw std::runtime_error(fmt::format("cannot write trace file {}", options.trace_path));
    trace.attach_jsonl(trace_file, [&](HostId h) { return sim.host_name(h); });
  }

  sim.start();
  sim.run_until(end);
  if (trace_file != nullptr) std::fclose(trace_file);
  refresh_running();
  if (options.checkers) {
    checker.sweep(running, hooks.active > 0);
    checker.finish(running);
  }
  load.finish(running);

  // Counters: the dead processes' (folded in at their death) plus the living ones'.
  std::uint64_t load_max = 0;
  std::uint64_t load_min = UINT64_MAX;
  for (std::uint32_t i = 0; i < n_nodes; ++i) {
    if (nodes[i] == nullptr) continue;
    add_stats(ns, nodes[i]->stats());
    if (running[i] != nullptr) {  // load.finish() counted its active cells' reals
      load_max = std::max(load_max, load.nodes()[i].load_end);
      load_min = std::min(load_min, load.nodes()[i].load_end);
    }
  }
  if (load_min == UINT64_MAX) load_min = 0;
  for (auto* g : gateways)
    if (g != nullptr) add_stats(gs, g->stats());
  std::uint64_t client_inputs = 0;
  std::uint64_t client_decode_errors = 0;
  std::uint64_t actions_acked = 0;
  for (const auto* c : clients) {
    if (c == nullptr) continue;
    client_inputs += c->stats().inputs;
    client_decode_errors += c->stats().decode_errors;
    actions_acked += c->actions_acked();
  }
  auto lat = checker.handovers().latencies;
  std::sort(lat.begin(), lat.end());
  const auto& ho = checker.handovers();
  const auto& ss = sim.stats();
  auto value_of = [&](std::string_view name) -> double {
    if (name == "players.lost") return static_cast<double>(checker.lost());
    if (name == "players.duplicated") return static_cast<double>(checker.duplicated());
    if (name == "aoi.continuity_violations") return static_cast<double>(continuity.violations());
    if (name == "aoi.reentries") return static_cast<double>(continuity.reentries());
    if (name == "aoi.oracle_mismatches") return static_cast<double>(oracle.mismatches());
    if (name == "aoi.oracle_views") return static_cast<double>(oracle.views_checked());
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
    if (name == "bots.density_violations") return static_cast<double>(density.violations());
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
    if (name == "handover.cross_node.count") return static_cast<double>(ho.ok);
    if (name == "handover.cross_node.latency.p50") return percentile_ms(lat, 50);
    if (name == "handover.cross_node.latency.p99") return percentile_ms(lat, 99);
    if (name == "handover.cross_node.latency.max") return percentile_ms(lat, 100);
    if (name == "handover.cross_node.started") return static_cast<double>(ns.handovers_started);
    if (name == "handover.failure_rate")
      return ho.ok + ho.failed == 0 ? 0.0
                                    : static_cast<double>(ho.failed * 10000 / (ho.ok + ho.failed)) / 100.0;
    if (name == "cell.migrations") return static_cast<double>(directory_state.migrations);
    if (name == "cell.reassignments") return static_cast<double>(directory_state.reassignments);
    if (name == "recovery.time.max") return static_cast<double>(checker.recovery_max().us()) / 1000.0;
    if (name == "players.unavailable.max") return static_cast<double>(checker.unavailable_max_ms());
    if (name == "players.restored") return static_cast<double>(ns.players_restored);
    if (name == "split_brain.violations") return static_cast<double>(checker.split_brain());
    if (name == "epoch.violations") return static_cast<double>(checker.epoch_violations());
    if (name == "ledger.acked_lost") return static_cast<double>(checker.acked_lost());
    if (name == "ledger.actions_acked") return static_cast<double>(actions_acked);
    if (name == "ledger.corrupt") return static_cast<double>(checker.ledger_corrupt());
    if (name == "migration.lost") return static_cast<double>(checker.migration_lost());
    if (name == "liveness.violations") return static_cast<double>(checker.liveness());
    if (name == "liveness.checked") return checker.liveness_checked() ? 1.0 : 0.0;
    if (name == "gateway.buffered.max") return static_cast<double>(gs.buffered_max);
    if (name == "gateway.dropped") return static_cast<double>(gs.buffer_dropped);
    if (name == "store.writes") return static_cast<double>(store_state.writes);
    if (name == "auth.rejected")
      return static_cast<double>(ns.auth_rejected + gs.rejected + store_state.rejected +
                                 directory_state.rejected);
    if (name == "node.fences") return static_cast<double>(ns.fences);
    if (name == "node.load.max") return static_cast<double>(load_max);
    if (name == "node.load.min") return static_cast<double>(load_min);
    if (name == "node.load.imbalance.mean") return load.imbalance_mean();
    if (name == "net.cluster.messages")
      return static_cast<double>(ss.by_first[cluster::kEnvelope].messages);
    if (name == "net.cluster.bytes")
      return static_cast<double>(ss.by_first[cluster::kEnvelope].bytes);
    if (name == "faults.triggered") return static_cast<double>(triggers.fired());
    SHARD_ASSERT_MSG(false, "metric {} has no source", name);
    return 0;
  };
  finish_result(spec, result, value_of, ss, node_load_metrics(spec.node_names, load));
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
