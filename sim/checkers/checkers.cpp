#include "sim/checkers/checkers.h"

#include <algorithm>

#include <fmt/format.h>

namespace shardsim::sim {

void ViolationLog::add(const char* checker, Time at, std::uint64_t entity, std::string detail) {
  ++total_;
  if (first_.size() < kKeep) first_.push_back(Violation{checker, at, entity, std::move(detail)});
}

void AuthorityChecker::check(const WorldNode& node, Time now) {
  const std::uint32_t players = node.config().max_players;
  joined_.assign(players + 1, 0);
  for (std::uint32_t id = 1; id <= players; ++id) joined_[id] = node.player_spawned(id) ? 1 : 0;
  check_cells(node.cells(), joined_, now);
}

void AuthorityChecker::check_cells(std::span<const Cell> cells, std::span<const std::uint8_t> joined,
                                   Time now) {
  const std::size_t players = joined.empty() ? 0 : joined.size() - 1;
  count_.assign(players + 1, 0);
  for (const auto& cell : cells)
    for (const auto& e : cell.reals)
      if (e.kind == wire::EntityKind::player && e.id.value() <= players) ++count_[e.id.value()];
  for (std::size_t id = 1; id <= players; ++id) {
    if (count_[id] > 1) {
      ++duplicated_;
      log_.add("players.duplicated", now, id, fmt::format("player real in {} cells", count_[id]));
    } else if (count_[id] == 0 && joined[id] != 0) {
      ++lost_;
      log_.add("players.lost", now, id, "joined player is real in no cell");
    }
  }
}

bool OracleChecker::in_range(const Snapshot& s, std::uint64_t a, std::uint64_t b,
                             std::int64_t r2) const {
  return a < s.present.size() && b < s.present.size() && s.present[a] && s.present[b] &&
         dist2(s.pos[a], s.pos[b]) <= r2;
}

bool OracleChecker::beyond(const Snapshot& s, std::uint64_t a, std::uint64_t b,
                           std::int64_t r2) const {
  if (a >= s.present.size() || !s.present[a]) return false;  // viewer unknown: no claim
  if (b >= s.present.size() || !s.present[b]) return true;    // entity gone
  return dist2(s.pos[a], s.pos[b]) > r2;
}

void OracleChecker::check(const WorldNode& node, Time now) {
  const std::int64_t r = node.config().aoi_radius_mm;
  const std::int64_t r_out = node.config().aoi_outer_mm();
  const std::int64_t r2 = r * r;
  const std::int64_t r_out2 = r_out * r_out;

  std::swap(prev_, now_);
  std::uint64_t max_id = 0;
  for (const auto& cell : node.cells())
    for (const auto& e : cell.reals) max_id = std::max(max_id, e.id.value());
  now_.pos.resize(max_id + 1);
  now_.present.assign(max_id + 1, 0);
  for (const auto& cell : node.cells())
    for (const auto& e : cell.reals) {
      now_.pos[e.id.value()] = e.pos;
      now_.present[e.id.value()] = 1;
    }
  // A flat grid over the world with square buckets of side radius + hysteresis, filled by a counting
  // sort in id order: a player's disc touches at most 3 x 3 buckets, and each bucket row is contiguous.
  const std::int64_t side = r_out;
  const auto gx = static_cast<std::size_t>(node.config().width_mm / side + 1);
  const auto gy = static_cast<std::size_t>(node.config().height_mm / side + 1);
  const auto col = [&](std::int64_t x) {
    return static_cast<std::size_t>(std::clamp<std::int64_t>(x / side, 0, static_cast<std::int64_t>(gx) - 1));
  };
  const auto row = [&](std::int64_t y) {
    return static_cast<std::size_t>(std::clamp<std::int64_t>(y / side, 0, static_cast<std::int64_t>(gy) - 1));
  };
  bucket_begin_.assign(gx * gy + 1, 0);
  for (std::uint64_t id = 0; id <= max_id; ++id)
    if (now_.present[id]) ++bucket_begin_[row(now_.pos[id].y) * gx + col(now_.pos[id].x) + 1];
  for (std::size_t k = 1; k < bucket_begin_.size(); ++k) bucket_begin_[k] += bucket_begin_[k - 1];
  items_.resize(bucket_begin_.back());
  fill_.assign(bucket_begin_.begin(), bucket_begin_.end() - 1);
  for (std::uint64_t id = 0; id <= max_id; ++id) {
    if (!now_.present[id]) continue;
    const Vec2 q = now_.pos[id];
    items_[fill_[row(q.y) * gx + col(q.x)]++] = Item{q.x, q.y, id};
  }

  for (const auto& cell : node.cells()) {
    for (const auto& p : cell.reals) {
      if (p.kind != wire::EntityKind::player) continue;
      const std::uint64_t pid = p.id.value();
      const auto& view = p.view;
      // Everything within radius + hysteresis now, from the buckets the disc touches, sorted by id,
      // then merged with the (id-sorted) view. The one-tick allowance needs last tick's positions,
      // which are only looked up for a suspected mismatch.
      near_.clear();
      const std::size_t x0 = col(p.pos.x - r_out);
      const std::size_t x1 = col(p.pos.x + r_out);
      for (std::size_t by = row(p.pos.y - r_out); by <= row(p.pos.y + r_out); ++by) {
        for (std::size_t k = bucket_begin_[by * gx + x0]; k < bucket_begin_[by * gx + x1 + 1]; ++k) {
          const Item& it = items_[k];
          const std::int64_t dx = it.x - p.pos.x;
          const std::int64_t dy = it.y - p.pos.y;
          const std::int64_t d2 = dx * dx + dy * dy;
          if (d2 <= r_out2) near_.push_back(Near{it.id, d2});
        }
      }
      for (std::size_t k = 1; k < near_.size(); ++k) {  // a handful: insertion sort
        const Near v = near_[k];
        std::size_t m = k;
        for (; m > 0 && v.id < near_[m - 1].id; --m) near_[m] = near_[m - 1];
        near_[m] = v;
      }
      std::size_t i = 0;
      std::size_t j = 0;
      while (i < view.size() || j < near_.size()) {
        if (j == near_.size() || (i < view.size() && view[i].id.value() < near_[j].id)) {
          // In view, but beyond radius + hysteresis (or gone) now: a mismatch if so a tick ago too.
          const std::uint64_t vid = view[i++].id.value();
          if (beyond(prev_, pid, vid, r_out2)) {
            ++mismatches_;
            log_.add("aoi.oracle_mismatches", now, pid,
                     fmt::format("entity {} in view but beyond radius + hysteresis", vid));
          }
        } else if (i == view.size() || near_[j].id < view[i].id.value()) {
          // Near but not in view: a mismatch if within the radius now and a tick ago.
          const Near n = near_[j++];
          if (n.d2 <= r2 && in_range(prev_, pid, n.id, r2)) {
            ++mismatches_;
            log_.add("aoi.oracle_mismatches", now, pid,
                     fmt::format("entity {} within radius for 2 ticks but not in view", n.id));
          }
        } else {
          ++i;
          ++j;
        }
      }
    }
  }
}

void ContinuityChecker::on_batch(std::uint64_t player_id, const wire::AoiBatch& batch, Time now) {
  if (player_id >= visible_.size()) return;
  auto& vis = visible_[player_id];
  if (batch.tick < last_tick_[player_id] ||
      (batch.tick == last_tick_[player_id] && !allow_repeated_tick_)) {
    ++violations_;
    log_.add("aoi.continuity_violations", now, player_id,
             fmt::format("batch for tick {} after tick {}", batch.tick, last_tick_[player_id]));
  }
  last_tick_[player_id] = batch.tick;
  const Duration lag = now - Time::from_micros(static_cast<std::int64_t>(batch.tick) * tick_.us());
  max_lag_ = std::max(max_lag_, lag);
  for (const auto& e : batch.enters) {
    auto it = std::lower_bound(vis.begin(), vis.end(), e.id.value());
    if (it != vis.end() && *it == e.id.value()) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("duplicate enter of entity {}", e.id.value()));
      continue;
    }
    vis.insert(it, e.id.value());
  }
  for (const auto& u : batch.updates) {
    if (!std::binary_search(vis.begin(), vis.end(), u.id.value())) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("update of entity {} not in view", u.id.value()));
    }
  }
  for (const auto& id : batch.leaves) {
    auto it = std::lower_bound(vis.begin(), vis.end(), id.value());
    if (it == vis.end() || *it != id.value()) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("leave of entity {} not in view", id.value()));
      continue;
    }
    vis.erase(it);
  }
}

void ContinuityChecker::on_reset(std::uint64_t player_id, Time) {
  if (player_id >= visible_.size()) return;
  visible_[player_id].clear();
  last_tick_[player_id] = 0;
}

void DensityChecker::check(const WorldNode& node, Time now) {
  if (node.tick() % node.density_every() != 0) return;
  const auto& cfg = node.config();
  for (std::size_t ci = 0; ci < node.cells().size(); ++ci) {
    if (!node.cell_active(ci)) continue;  // Phase B: cells of other nodes are theirs to check
    const Cell& cell = node.cells()[ci];
    int bots = 0;
    for (const auto& e : cell.reals) bots += e.kind == wire::EntityKind::npc;
    if (bots < cfg.bots_min || bots > cfg.bots_max) {
      ++violations_;
      log_.add("bots.density_violations", now, cell.id.value(),
               fmt::format("cell {} has {} NPCs, outside [{}, {}]", cell.id.value(), bots,
                           cfg.bots_min, cfg.bots_max));
    }
  }
}

}  // namespace shardsim::sim
