// ScenarioSpec: a scenario file validated once into typed values. Everything downstream (runner,
// workloads, checkers) reads only this struct, never YAML, so bad input can only ever surface in the
// loader, as `file:line:col: error: ...`, before anything runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
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
  PlayersSpec players;
  BotsSpec bots;
  net::LinkConfig network;
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

}  // namespace shardsim::scenario
