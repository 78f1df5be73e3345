// ScenarioSpec: a scenario file validated once into typed values. Everything downstream (runner,
// workloads, checkers) reads only this struct, never YAML, so bad input can only ever surface in the
// loader, as `file:line:col: error: ...`, before anything runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/core/time.h"
#include "net_model/link.h"

namespace shardsim::scenario {

// 1-based line and column, as editors show them.
struct SourceLoc {
  std::string file;
  int line{0};
  int column{0};
};

enum class Movement : std::uint8_t { random_waypoint, border_oscillation, hotspot };

enum class CompareOp : std::uint8_t { lt, le, eq, ne, ge, gt };

struct Expectation {
  std::string metric;  // a name from sim/runner/metrics.h
  CompareOp op{CompareOp::eq};
  double value{0};     // in the metric's unit: ms for durations, percent for rates, plain for counts
  std::string text;    // as written, e.g. "< 500ms"
  SourceLoc loc;
};

struct WorldSpec {
  std::int64_t width_mm{0};
  std::int64_t height_mm{0};
  int cells_x{0};
  int cells_y{0};
  std::int64_t aoi_radius_mm{0};
  // Rim band for AOI (enter inside radius, leave beyond radius + hysteresis) and the margin an entity
  // must cross beyond a cell border before it is handed over.
  std::int64_t hysteresis_mm{0};
  // How long an entity must stay beyond the border + hysteresis before handover.
  Duration handover_dwell{Duration::millis(500)};

  // The loader guarantees the world divides into equal cells to the millimetre, so these are exact.
  constexpr std::int64_t cell_width_mm() const { return width_mm / cells_x; }
  constexpr std::int64_t cell_height_mm() const { return height_mm / cells_y; }
};

struct HotspotSpawn {
  bool enabled{false};
  Vec2 center;
  std::int64_t radius_mm{0};
  std::uint32_t fraction_ppm{0};  // share of players spawned inside the hotspot
};

struct PlayersSpec {
  int count{0};
  HotspotSpawn hotspot;  // disabled = uniform spawn
  Movement movement{Movement::random_waypoint};
  std::int64_t speed_min_mm_s{1000};
  std::int64_t speed_max_mm_s{6000};
  Duration action_every{Duration::zero()};  // `actions: 1/s` = 1s; zero = no ledger actions
};

// Phase B cluster shape. Host names: nodes as listed (node-1..node-N by default), gateway-1..gateway-G,
// `store` (the session store) and `directory` (the lease store / assigner).
enum class Assignment : std::uint8_t { rendezvous, least_loaded };

struct ClusterSpec {
  int gateways{0};          // 0 = clients talk to the node directly (Phase A); >= 1 with nodes > 1
  Assignment assignment{Assignment::rendezvous};
  bool cross_node{true};    // false: node-1 owns every cell, Phase A paths only (feature flag)
  Duration lease{Duration::seconds(2)};         // lease TTL
  Duration heartbeat{Duration::millis(250)};    // lease renewal interval (< lease)
  Duration checkpoint{Duration::seconds(1)};    // periodic session checkpoint interval
  Duration clock_drift_max{Duration::millis(50)};  // drift allowance subtracted from the lease
  bool phase_b() const { return gateways > 0; }
};

// One entry of the `faults:` timeline. `hosts` name hosts as above; the loader has checked they exist.
enum class FaultKind : std::uint8_t {
  partition,         // groups: two or more disjoint host groups, cut from each other (symmetric)
  partition_oneway,  // from -> to dropped (to -> from still flows)
  crash,             // host; restart_after (zero: stays down)
  pause,             // host, for
  drain,             // host: planned shutdown of a node (migrates its cells away, then leaves)
  clock_jump,        // host jumps its clock by `jump` (signed)
  isolate,           // host cut from everyone, for
  link,              // between a and b: latency / loss override, for
};

// Protocol events a fault can wait for (`on:`), instead of firing at a time. Each names two node
// roles, `source` and `target`, resolved to the nodes involved when the event happens.
enum class FaultEvent : std::uint8_t {
  none,                     // a timed fault
  handover_started,         // handover.started: source decided to hand a player to target
  handover_commit_sent,     // handover.commit_sent: source gave the player up (in transit)
  handover_installed,       // handover.installed: target took the player (success)
  handover_aborted,         // handover.aborted: the source kept the player
  cell_migration_started,   // cell.migration_started: source froze a cell to move it to target
};
const char* fault_event_name(FaultEvent e);  // "handover.commit_sent"; "" for none
inline constexpr std::string_view kRoleSource = "source";
inline constexpr std::string_view kRoleTarget = "target";

struct FaultSpec {
  FaultKind kind{FaultKind::crash};
  Time at;  // timed: when; triggered: from when the event is counted (zero: from the start)
  FaultEvent on{FaultEvent::none};
  std::uint32_t nth{1};  // triggered: fires on the nth such event at or after `at`
  Duration duration{Duration::zero()};  // `for:`; zero = until the end of the run
  std::vector<std::vector<std::string>> groups;  // partition
  std::string host;                     // crash, pause, drain, clock_jump, isolate; oneway `from`
  std::string peer;                     // oneway `to`; link's second host (host = first)
  Duration restart_after{Duration::zero()};  // crash; zero = never restarts
  Duration jump{Duration::zero()};      // clock_jump
  bool has_latency{false};
  net::LatencySpec latency;             // link
  bool has_loss{false};
  std::uint32_t loss_ppm{0};            // link
  SourceLoc loc;
};

// `chaos:` seeded random faults until `until`, then a quiet phase in which liveness must hold.
// A kind with mean_interval zero is off. Targets are drawn from nodes only (the store, directory and
// gateways are left alone by chaos; the timeline can still fault them explicitly).
struct ChaosKind {
  Duration mean_interval{Duration::zero()};  // 1/rate: `rate: 2/min` = 30s
  Duration min{Duration::zero()};            // `for:` or `restart_after:` range
  Duration max{Duration::zero()};
  bool enabled() const { return mean_interval > Duration::zero(); }
};

struct ChaosSpec {
  Time until{Time::zero()};  // zero = no chaos
  ChaosKind crash;           // min/max = restart_after
  ChaosKind partition;       // min/max = for; isolates one random node from the rest
  ChaosKind pause;           // min/max = for
  SourceLoc loc;
  bool enabled() const { return until > Time::zero(); }
};

// Deliberate protocol bugs (`bugs: [...]`) that prove the checkers have teeth.
enum class Bug : std::uint8_t {
  skip_lease_check,    // a node keeps simulating cells after its lease lapsed -> split_brain
  ack_before_durable,  // actions acknowledged before the store has them -> ledger.acked_lost
  unfenced_abort,      // a timed-out handover source takes the player back without fencing the
                       // target in the store -> players.duplicated
  ghost_gap,           // a node forgets entities the moment they leave it (a handover's ack, a
                       // frozen or migrated cell, a migration's transfer not yet installed), and
                       // no witness hold on arrival -> aoi.reentries (spurious leave/enter)
  ghost_no_corners,    // ghosts go to the nodes owning the four side neighbours of an entity's
                       // cell, not the diagonal ones -> aoi.oracle_mismatches
};

struct BotsSpec {
  int density_min{0};  // NPCs per cell
  int density_max{0};
  std::int64_t speed_min_mm_s{500};
  std::int64_t speed_max_mm_s{2000};
};

struct ScenarioSpec {
  std::string file;  // path as given
  std::string name;
  std::string description;
  std::uint64_t seed{1};
  Duration duration{Duration::seconds(60)};
  Duration tick{Duration::millis(50)};
  WorldSpec world;
  std::vector<std::string> node_names;  // node-1..node-N unless listed
  ClusterSpec cluster;
  PlayersSpec players;
  BotsSpec bots;
  net::LinkConfig network;
  std::vector<FaultSpec> faults;  // in file order (the runner sorts stably by `at`)
  ChaosSpec chaos;
  std::vector<Bug> bugs;
  std::vector<Expectation> expect;
};

// Documented limits; values beyond them are input errors, not crashes or hours-long runs.
inline constexpr int kMaxPlayers = 200'000;
inline constexpr int kMaxCellsPerAxis = 256;
inline constexpr int kMaxNodes = 256;
inline constexpr int kMaxBotsPerCell = 10'000;
inline constexpr std::int64_t kMaxWorldMm = 100'000'000;  // 100 km per side
inline constexpr std::int64_t kMaxSpeedMmS = 100'000;     // 100 m/s
inline constexpr Duration kMaxDuration = Duration::seconds(24 * 3600);
inline constexpr Duration kMinTick = Duration::millis(1);
inline constexpr Duration kMaxTick = Duration::seconds(1);
inline constexpr std::int64_t kMaxTotalBots = 1'000'000;  // bots.density max x number of cells
inline constexpr Duration kMaxLatency = Duration::seconds(10);  // any latency parameter
inline constexpr std::size_t kMaxNodeNameLength = 32;
inline constexpr int kMaxGateways = 64;
inline constexpr std::size_t kMaxFaults = 10'000;

// How a node name in `cluster.nodes` may be spelled: a lowercase letter, then lowercase letters,
// digits and '-', at most kMaxNodeNameLength characters. (No '.', so node.<name>.load.end reads
// back unambiguously.)
constexpr bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNodeNameLength) return false;
  if (name.front() < 'a' || name.front() > 'z') return false;
  for (const char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

}  // namespace shardsim::scenario
