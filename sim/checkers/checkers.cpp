#include "sim/checkers/checkers.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/core/assert.h"

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
  return s.has(a) && s.has(b) && dist2(s.by_id[a].pos, s.by_id[b].pos) <= r2;
}

bool OracleChecker::beyond(const Snapshot& s, std::uint64_t a, std::uint64_t b,
                           std::int64_t r2) const {
  if (!s.has(a)) return false;  // viewer unknown: no claim
  if (!s.has(b)) return true;   // entity gone
  return dist2(s.by_id[a].pos, s.by_id[b].pos) > r2;
}

void OracleChecker::take_snapshot(const WorldNode& node) {
  const std::uint64_t check = ++checks_;
  now_.check = check;
  reals_.clear();
  reals_twice_ = false;
  players_.clear();
  for (const auto& cell : node.cells())
    for (const auto& e : cell.reals) {
      const std::uint64_t id = e.id.value();
      if (id >= now_.by_id.size()) now_.by_id.resize(id + 1);
      // An entity real in two cells (the authority checker counts that) is one grid item, placed
      // where it was last seen; each copy that is a player still has its view checked.
      Slot& slot = now_.by_id[id];
      if (slot.check != check)
        reals_.push_back(Item{e.pos.x, e.pos.y, id});
      else
        reals_twice_ = true;
      slot = Slot{e.pos, check};
      if (e.kind == wire::EntityKind::player) players_.push_back(&e);
    }
}

void OracleChecker::build_grid(const NodeConfig& config, std::int64_t r_out) {
  // Buckets of side radius + hysteresis, so a player's disc touches at most 3 x 3 of them. Half
  // that side would scan 5 x 5 buckets covering 30 % less area, but the extra rows and the four
  // times as many buckets to build cost more than that saves, except in the densest crowds.
  grid_.gx = config.width_mm / r_out + 1;
  grid_.gy = config.height_mm / r_out + 1;
  grid_.cols = GridAxis{0, r_out, grid_.gx};
  grid_.rows = GridAxis{0, r_out, grid_.gy};
  const auto buckets = static_cast<std::size_t>(grid_.gx * grid_.gy);
  SHARD_ASSERT(buckets < std::size_t{1} << 32);
  // A counting sort: count into each bucket's slot, sum so each slot holds its bucket's end, then
  // place items backwards so each slot ends at its bucket's begin.
  if (reals_twice_)
    for (Item& it : reals_) {
      const Vec2 q = now_.by_id[it.id].pos;  // where it was last seen
      it.x = q.x;
      it.y = q.y;
    }
  bucket_begin_.assign(buckets + 1, 0);
  bucket_of_.resize(reals_.size());
  for (std::size_t k = 0; k < reals_.size(); ++k) {
    const Item& it = reals_[k];
    bucket_of_[k] = static_cast<std::uint32_t>(grid_.row(it.y) * grid_.gx + grid_.col(it.x));
    ++bucket_begin_[bucket_of_[k]];
  }
  std::uint32_t sum = 0;
  for (std::uint32_t& b : bucket_begin_) b = sum += b;
  items_.resize(reals_.size());
  for (std::size_t k = 0; k < reals_.size(); ++k)
    items_[--bucket_begin_[bucket_of_[k]]] = reals_[k];
}

// Calls visit(id, d2) for every entity in p's bucket and its neighbours, in grid order. As side =
// r_out, that covers the disc of radius r_out: only p's own bucket needs dividing out.
template <class Visit>
void OracleChecker::for_each_candidate(Vec2 p, Visit&& visit) const {
  const std::int64_t cx = grid_.col(p.x);
  const std::int64_t cy = grid_.row(p.y);
  const std::int64_t x0 = std::max<std::int64_t>(cx - 1, 0);
  const std::int64_t x1 = std::min(cx + 1, grid_.gx - 1);
  const std::int64_t y1 = std::min(cy + 1, grid_.gy - 1);
  // Locals and pointers, not members: visit() stores through pointers (the marks), which could
  // alias a member, so the compiler would reload each one on every item.
  const Item* const items = items_.data();
  const std::uint32_t* const begin = bucket_begin_.data();
  const std::int64_t gx = grid_.gx;
  const std::int64_t px = p.x;
  const std::int64_t py = p.y;
  for (std::int64_t by = std::max<std::int64_t>(cy - 1, 0); by <= y1; ++by) {
    const auto row = static_cast<std::size_t>(by * gx);
    const Item* const end = items + begin[row + static_cast<std::size_t>(x1) + 1];
    for (const Item* it = items + begin[row + static_cast<std::size_t>(x0)]; it < end; ++it) {
      const std::int64_t dx = it->x - px;
      const std::int64_t dy = it->y - py;
      visit(it->id, dx * dx + dy * dy);
    }
  }
}

template <class Visit>
void OracleChecker::for_each_near(Vec2 p, std::int64_t r_out2, Visit&& visit) const {
  for_each_candidate(p, [&](std::uint64_t id, std::int64_t d2) {
    if (d2 <= r_out2) visit(id, d2);
  });
}

// True if p's view cannot hold a mismatch: every entity in it is within radius + hysteresis now,
// and every entity within the radius now is in it. Marking the view by id makes this one pass over
// the buckets, with no sort; a view that fails it goes to report(), which sorts and merges.
bool OracleChecker::view_agrees(const Entity& p, std::int64_t r2, std::int64_t r_out2) {
  const std::uint64_t serial = ++views_;
  for (const auto& v : p.view) {
    if (v.id.value() >= seen_by_.size()) return false;  // not real now, so not near
    seen_by_[v.id.value()] = serial;
  }
  std::size_t seen = 0;
  bool missing = false;
  const std::uint64_t* const seen_by = seen_by_.data();
  // Without branches on the item: whether an item is in range is a coin toss to the predictor, and
  // these tests were ~18 % of quickstart's mispredicted branches (cachegrind --branch-sim). Every
  // candidate's id indexes seen_by_, which spans the snapshot's ids. (r2 <= r_out2: an unmarked
  // item within r2 is near.)
  for_each_candidate(p.pos, [&](std::uint64_t id, std::int64_t d2) {
    const bool marked = seen_by[id] == serial;
    seen += static_cast<std::size_t>(marked & (d2 <= r_out2));
    missing |= !marked & (d2 <= r2);
  });
  return !missing && seen == p.view.size();  // fewer if the view holds an entity twice
}

void OracleChecker::report(const Entity& p, std::int64_t r2, std::int64_t r_out2, Time now) {
  const std::uint64_t pid = p.id.value();
  const auto& view = p.view;
  // Everything within radius + hysteresis now, sorted by id, then merged with the (id-sorted) view.
  // The one-tick allowance needs last tick's positions, which are only looked up for a suspected
  // mismatch.
  near_.clear();
  for_each_near(p.pos, r_out2,
                [&](std::uint64_t id, std::int64_t d2) { near_.push_back(Near{id, d2}); });
  std::sort(near_.begin(), near_.end(), [](const Near& a, const Near& b) { return a.id < b.id; });
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

void OracleChecker::check(const WorldNode& node, Time now) {
  const std::int64_t r = node.config().aoi_radius_mm;
  const std::int64_t r_out = node.config().aoi_outer_mm();
  const std::int64_t r2 = r * r;
  const std::int64_t r_out2 = r_out * r_out;

  std::swap(prev_, now_);
  take_snapshot(node);
  build_grid(node.config(), r_out);
  seen_by_.resize(now_.by_id.size(), 0);
  // A player's witness is a heap block of its own, cold by now (the tick touched every other
  // player's since): its first read was ~40 % of view_agrees' samples. Fetched a few players
  // ahead, in two stages: the entity (which holds the witness's address), then the witness.
  constexpr std::size_t kAhead = 4;
  const std::size_t n = players_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 2 * kAhead < n) __builtin_prefetch(&players_[i + 2 * kAhead]->view);
    if (i + kAhead < n) __builtin_prefetch(players_[i + kAhead]->view.data());
    const Entity& p = *players_[i];
    if (!view_agrees(p, r2, r_out2)) report(p, r2, r_out2, now);
  }
}

void ContinuityChecker::on_batch(std::uint64_t player_id, const wire::AoiBatch& batch, Time now) {
  if (player_id >= visible_.size()) return;
  auto& vis = visible_[player_id];
  if (batch.tick <= last_tick_[player_id]) {
    ++violations_;
    log_.add("aoi.continuity_violations", now, player_id,
             fmt::format("batch for tick {} after tick {}", batch.tick, last_tick_[player_id]));
  }
  last_tick_[player_id] = batch.tick;
  const Duration lag = now - Time::from_micros(static_cast<std::int64_t>(batch.tick) * tick_.us());
  max_lag_ = std::max(max_lag_, lag);
  // Each list is in ascending id order (the decoder rejects any other), as is `vis`: each search
  // starts where the previous one ended — or at the start, should a list not be ascending. An update
  // list names most of the view, so the next id is usually a step or two on: a few linear steps
  // first, a binary search only for a long gap.
  auto seek = [&vis](std::vector<std::uint64_t>::iterator from, std::uint64_t id) {
    if (from != vis.begin() && *(from - 1) >= id) from = vis.begin();
    for (int k = 0; k < 4; ++k, ++from)
      if (from == vis.end() || *from >= id) return from;
    return std::lower_bound(from, vis.end(), id);
  };
  auto from = vis.begin();
  for (const auto& e : batch.enters) {
    auto it = seek(from, e.id.value());
    if (it != vis.end() && *it == e.id.value()) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("duplicate enter of entity {}", e.id.value()));
      from = it + 1;
      continue;
    }
    from = vis.insert(it, e.id.value()) + 1;
  }
  from = vis.begin();
  for (const auto& u : batch.updates) {
    if (from != vis.end() && *from == u.id.value()) {  // mostly the very next entry
      ++from;
      continue;
    }
    from = seek(from, u.id.value());
    if (from == vis.end() || *from != u.id.value()) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("update of entity {} not in view", u.id.value()));
      continue;
    }
    ++from;  // the next search starts past this one: mostly the next id is the very next entry
  }
  from = vis.begin();
  for (const auto& id : batch.leaves) {
    auto it = seek(from, id.value());
    if (it == vis.end() || *it != id.value()) {
      ++violations_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("leave of entity {} not in view", id.value()));
      from = it;
      continue;
    }
    from = vis.erase(it);
  }
  if (reentry_ticks_ > 0 && (!batch.leaves.empty() || !recent_leaves_[player_id].empty()))
    check_reentry(player_id, batch, now);
}

void ContinuityChecker::on_reset(std::uint64_t player_id, Time) {
  if (player_id >= visible_.size()) return;
  visible_[player_id].clear();
  last_tick_[player_id] = 0;
  recent_leaves_[player_id].clear();
}

Duration ContinuityChecker::reentry_window_for(std::int64_t hysteresis_mm, std::int64_t max_speed_mm_s,
                                               Duration tick) {
  if (hysteresis_mm <= 0 || max_speed_mm_s <= 0 || tick.us() <= 0) return Duration::zero();
  // hysteresis / (2 v) seconds = hysteresis_mm * 1e6 / (2 v) microseconds; a quarter of it.
  const std::int64_t bound_us = hysteresis_mm * 1'000'000 / (2 * max_speed_mm_s);
  const std::int64_t ticks = bound_us / 4 / tick.us();
  return Duration::micros(ticks * tick.us());
}

namespace {
std::string format_ms(Duration d) { return fmt::format("{}.{:03} ms", d.us() / 1000, d.us() % 1000); }
}  // namespace

// Leaves are rare (a few per thousand batches), so each player's recent ones sit in a short vector,
// pruned as new ones come; the common batch, with no enter and no leave, costs one test.
void ContinuityChecker::check_reentry(std::uint64_t player_id, const wire::AoiBatch& batch, Time now) {
  auto& recent = recent_leaves_[player_id];
  auto stale = [&](const Leave& l) {
    return batch.tick > l.tick + reentry_ticks_ || now - l.at > reentry_window_;
  };
  if (!recent.empty()) {
    std::erase_if(recent, stale);
    for (const auto& e : batch.enters) {
      const auto it = std::find_if(recent.begin(), recent.end(),
                                   [&](const Leave& l) { return l.id == e.id.value(); });
      if (it == recent.end()) continue;
      const Leave left = *it;
      const bool excused = left.excused || !quiet(now);
      recent.erase(it);
      if (excused) continue;
      ++violations_;
      ++reentries_;
      log_.add("aoi.continuity_violations", now, player_id,
               fmt::format("entity {} left at tick {} and entered again at tick {} ({} later): "
                           "faster than it can cross the hysteresis, a spurious leave/enter",
                           e.id.value(), left.tick, batch.tick, format_ms(now - left.at)));
    }
  }
  const bool excused = !quiet(now);
  for (const auto& id : batch.leaves) recent.push_back({id.value(), batch.tick, now, excused});
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
