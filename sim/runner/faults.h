// Faults: a scenario's fault timeline and its seeded chaos, as a pure "realize, then apply" pair.
//
// realize_faults() turns (spec, seed) into one explicit list of faults, chaos included, that can be
// printed, written back as a `faults:` list (faults_to_yaml) and shrunk. schedule_faults() applies
// such a list to a simulator and draws no random numbers, so a realized schedule written out and
// loaded again as a plain timeline reproduces the faults of the chaos run that made it.
//
// Chaos (realize_faults), for each enabled kind, in the order crash, partition, pause:
//  - One RNG stream per kind, Rng::stream(seed, "chaos", k) with k = 0 crash, 1 partition,
//    2 pause, so enabling or retuning one kind never moves another kind's faults.
//  - Arrivals: t_0 = 0, t_{i+1} = t_i + uniform[mean/2, 3*mean/2] in integer microseconds (at
//    least 1us), kept while t < chaos.until; at most kMaxChaosFaultsPerKind per kind (the loader is
//    expected to refuse rates that would reach it; here the excess is cut, visibly, in the list).
//  - Per arrival, in this draw order: crash and pause pick a target uniformly among
//    spec.node_names, then a length uniform in [min, max] (crash: restart_after; pause: for).
//    A partition shuffles spec.node_names plus "directory" (Phase B only: in Phase A there is no
//    directory host) with Fisher-Yates, cuts the shuffled list at a uniform point in [1, n-1] into
//    two non-empty groups, then draws `for`. With fewer than two names there is nothing to split
//    and the kind makes no faults. Hosts in neither group (gateways, the store) stay connected.
//  - Lengths are at least 1us (zero would mean "until the end of the run" / "never restarts") and
//    are clamped so every chaos fault has ended (healed, resumed, restarted) by chaos.until: the
//    quiet phase after `until`, in which liveness is checked, is truly fault-free.
//  - Order of the result: timeline faults in file order, then chaos kinds in the order above, each
//    in time order; then a stable sort by `at`, so ties keep that order.
//
// Applying (schedule_faults), per kind:
//  - partition / partition_oneway / isolate: a network partition, healed after `for` by its own
//    PartitionId (never heal_all), so overlapping partitions end independently.
//  - link: set_link(a, b, both directions) to the link a -> b had before any link fault touched the
//    pair, with latency and/or loss replaced; overlapping link faults on one pair stack: when one
//    ends the latest still active one applies again, and when the last ends the override is cleared
//    (the pair goes back to the scenario's default link).
//  - crash: crashes the host; after restart_after (if > 0) restarts it.
//  - pause: pauses the host; resumes it after `for`.
//  - clock_jump: set_clock(host, current offset + jump, current drift). Applies to a down host too
//    (the clock belongs to the machine, not to the process).
//  - drain: hooks.drain(host), which the runner implements.
//  `for` / restart_after zero: the fault lasts until the end of the run.
//
// Robustness: overlapping faults never assert, and a fault only ever undoes what it did itself:
//  - crash of a host already down, pause of a host down or already paused, drain of a down host:
//    skipped (recorded), and such a fault has no end either.
//  - a restart happens only if the host is still down from this very crash (no restart or crash
//    since: the host's incarnation is unchanged); a resume only if this fault's pause is still the
//    one holding the host (not crashed since, not resumed and re-paused by another fault).
//  - At one instant every end (heal, restart, resume) runs before every begin, so back-to-back
//    faults on one host ([0s, 10s) then [10s, ...)) hand over cleanly instead of skipping.
//
// Trace. The kernel records its own fault calls (crash, restart, pause, resume, clock: see
// sim/kernel/simulator.h); this file adds TraceKind::fault records only for what the kernel does
// not see, never twice: op 16 begin and op 17 end of partition, partition_oneway, isolate, link
// and drain faults; op 18 a begin skipped, op 19 an end skipped. b = the FaultKind, c = the
// fault's index in the schedule; host = the fault's host (partition: first host of the first
// group; link: a).
//
// Triggered faults (`on: EVENT`, `nth: N`, optional `at`): not scheduled at a time. The runner
// routes the cluster's protocol events through a FaultTriggers observer; the Nth matching event at
// or after `at` fires the fault: its roles (`source`, `target`) become the event's node names, its
// `at` becomes the event's instant, and it begins at that instant, after the handler that raised
// the event has returned (a crash never tears through a half-run handler), and ends `for` /
// `restart_after` later like any other. Each triggered fault fires at most once. Trace: op 20
// (kFaultOpTriggered), b = the FaultEvent, c = the template's index in the schedule, host = the
// resolved source; the fired copy then records as above with its own index (after the timed ones).
// A resolved fault that makes no sense (a role resolving onto a host the fault already names
// elsewhere, e.g. [[source], [node-2]] with source = node-2) is skipped (op 18).
// last_fault_end() cannot know when triggered faults end; FaultHooks::on_fault tells the runner.
// Exception to "ends before begins" below: a triggered fault's end is queued when it fires, so at
// its end instant it runs after the timed begins queued at the start (e.g. a timed crash of the
// host a triggered crash restarts at that very instant is skipped, recorded as op 18).
//
// FaultHooks::on_fault(f, true) follows every applied begin and on_fault(f, false) every applied
// end; skipped ones get no call; instantaneous faults (clock_jump, drain) and faults without an end
// get only the begin call. The simulator, the network and the hooks must outlive the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/cluster/observer.h"
#include "engine/core/ids.h"
#include "engine/core/time.h"
#include "net_model/network.h"
#include "sim/kernel/simulator.h"
#include "sim/scenario/spec.h"

namespace shardsim::sim {

// One explicit fault; chaos made explicit.
struct RealizedFault {
  scenario::FaultSpec spec;  // kind, at, duration, hosts... (loc empty for chaos-made ones)
  bool from_chaos{false};
};

inline constexpr std::size_t kMaxChaosFaultsPerKind = scenario::kMaxFaults;

// The YAML key of a fault kind ("partition", "clock_jump", ...).
const char* fault_kind_key(scenario::FaultKind kind);

// Trace ops (TraceKind::fault, field a) written by schedule_faults.
inline constexpr std::uint64_t kFaultOpBegin = 16;
inline constexpr std::uint64_t kFaultOpEnd = 17;
inline constexpr std::uint64_t kFaultOpBeginSkipped = 18;
inline constexpr std::uint64_t kFaultOpEndSkipped = 19;
inline constexpr std::uint64_t kFaultOpTriggered = 20;

// Timeline faults plus chaos expanded from its RNG streams, sorted stably by `at` (see above).
std::vector<RealizedFault> realize_faults(const scenario::ScenarioSpec& spec, std::uint64_t seed);

// YAML text of a `faults:` list reproducing exactly this schedule (for shrinking and regression
// files), in the loader's format (sim/scenario/fault_reader.cpp), one block item per fault,
// chaos-made ones marked `# chaos`:
//   faults:
//     - at: 12.5s
//       crash: node-2
//       restart_after: 3s
//     - at: 20s  # chaos
//       partition: [[node-1, directory], [node-2, node-3]]
//       for: 4s
//     - at: 31s
//       partition_oneway: {from: node-1, to: node-2}
//     - at: 40s
//       link: {between: [node-1, node-2], latency: {distribution: uniform, min: 1ms, max: 5ms},
//              loss: 5%}   (on one line)
//       for: 10s
//     - at: 50s
//       clock_jump: {node: node-1, by: -300ms}
// isolate, pause and drain name their host like crash; `for` is omitted when zero (to the end).
// Durations and percentages are written exactly (units.h formatting), so nothing is rounded.
std::string faults_to_yaml(const std::vector<RealizedFault>& faults);

// Engine-level actions the kernel cannot do itself; the runner implements them.
class FaultHooks {
 public:
  virtual ~FaultHooks() = default;
  virtual void drain(HostId node) = 0;
  // Metrics and liveness bookkeeping, after the fault was applied (see above).
  virtual void on_fault(const RealizedFault& /*f*/, bool /*begin*/) {}
};

class FaultScheduler;

// The protocol events triggered faults wait for. Forwards every call to `inner` (the checker, or
// null) first, so a checker sees the event before any fault it triggers.
class FaultTriggers final : public cluster::ClusterObserver {
 public:
  FaultTriggers(std::vector<std::string> node_names, cluster::ClusterObserver* inner)
      : node_names_{std::move(node_names)}, inner_{inner} {}
  void on_cell_tick(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override {
    if (inner_ != nullptr) inner_->on_cell_tick(node, cell, epoch);
  }
  void on_cell_release(std::uint32_t node, std::uint32_t cell) override {
    if (inner_ != nullptr) inner_->on_cell_release(node, cell);
  }
  void on_cell_acquire(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) override {
    if (inner_ != nullptr) inner_->on_cell_acquire(node, cell, epoch);
  }
  void on_handover_start(std::uint64_t hid, std::uint64_t player, std::uint32_t from,
                         std::uint32_t to) override;
  void on_handover_commit(std::uint64_t hid, std::uint64_t player) override;
  void on_handover_end(std::uint64_t hid, std::uint64_t player, bool ok) override;
  void on_route(std::uint64_t player, std::uint32_t node, std::uint64_t gen) override {
    if (inner_ != nullptr) inner_->on_route(player, node, gen);
  }
  void on_migration_out(std::uint32_t node, std::uint32_t to, std::uint32_t cell,
                        std::span<const cluster::PlayerTransfer> players) override;
  void on_migration_in(std::uint32_t cell, std::span<const cluster::PlayerTransfer> players) override {
    if (inner_ != nullptr) inner_->on_migration_in(cell, players);
  }
  // How many triggered faults have fired (and resolved to a fault that makes sense).
  std::size_t fired() const { return fired_; }

 private:
  friend void schedule_faults(Simulator&, net::NetworkModel&, const std::vector<RealizedFault>&,
                              const std::function<HostId(const std::string&)>&, FaultHooks&,
                              FaultTriggers*);
  void event(scenario::FaultEvent e, std::uint32_t source, std::uint32_t target);
  struct Armed {
    std::size_t index;  // in the schedule
    std::uint32_t seen{0};
    bool fired{false};
  };
  std::vector<std::string> node_names_;
  cluster::ClusterObserver* inner_;
  std::shared_ptr<FaultScheduler> scheduler_;
  const Time* now_{nullptr};
  std::vector<Armed> armed_;
  // hid -> (from, to) of the handovers in flight, while an armed fault still waits.
  std::map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> handovers_;
  std::size_t done_{0};   // armed faults whose event came (fired or skipped)
  std::size_t fired_{0};
};

// Schedules every timed fault on the simulator with sim.at(): its begin and, when it has one, its
// end; arms every triggered one on `triggers` (which must then be non-null and be the cluster's
// observer). host_of maps a host name from the spec to its id (the loader has checked the names
// exist). Every timed fault's `at` must be >= sim.now().
void schedule_faults(Simulator& sim, net::NetworkModel& net,
                     const std::vector<RealizedFault>& faults,
                     const std::function<HostId(const std::string&)>& host_of, FaultHooks& hooks,
                     FaultTriggers* triggers);

// The virtual time of the last fault transition: the latest heal, resume or restart, or the begin
// of an instantaneous (clock_jump, drain) or endless fault (for zero, crash without restart),
// after which the fault set no longer changes. Time::zero() if there are no faults.
Time last_fault_end(const std::vector<RealizedFault>& faults);

// Whether the fault has an end (a heal, resume or restart), and when: at + for, at + restart_after;
// fault_end is `at` for faults without one.
bool fault_has_end(const scenario::FaultSpec& f);
Time fault_end(const scenario::FaultSpec& f);

}  // namespace shardsim::sim
