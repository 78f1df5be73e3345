#include "engine/world/world_node.h"

#include <algorithm>

#include "engine/core/assert.h"
#include "engine/wire/messages.h"

namespace shardsim {
namespace {
constexpr std::uint64_t kTickTimer = 1;
constexpr std::uint64_t kHeartbeatTimer = 2;
}

WorldNode::WorldNode(Env env, NodeConfig config, TickObserver* observer,
                     cluster::ClusterObserver* cluster_observer)
    : env_{env},
      config_{std::move(config)},
      observer_{observer},
      // NPC ids: above the player ids. This range serves Phase A (index 0); in a cluster no NPC is
      // spawned before the first lease, and each lease draws from its own range (on_table).
      next_bot_id_{config_.max_players + 1ULL + (std::uint64_t{config_.cluster.index} << 32)},
      cobs_{cluster_observer},
      auth_{config_.cluster.auth_key},
      tunnel_{env_.transport, auth_} {
  SHARD_ASSERT(config_.cells_x >= 1);
  SHARD_ASSERT(config_.cells_y >= 1);
  SHARD_ASSERT(config_.aoi_radius_mm > 0);
  SHARD_ASSERT(config_.tick > Duration::zero());
  const std::int64_t cw = config_.cell_width_mm();
  const std::int64_t ch = config_.cell_height_mm();
  by_cell_width_ = Divider{cw};
  by_cell_height_ = Divider{ch};
  config_.channel.frame_scratch = &channel_frames_;  // every session's channel builds frames here
  // The world: where the reals and ghosts are (positions are clamped to it; anything outside would
  // land in a border bucket). Buckets of the outer AOI radius, so a query reads 3 x 3 of them. (It
  // was the world grown by the ghost margin, a leftover of per-cell indices: a long
  // handover_dwell made that margin kilometres wide, for nothing.)
  index_ = AoiIndex{Rect{{0, 0}, {config_.width_mm, config_.height_mm}}, config_.aoi_outer_mm()};
  cells_.reserve(static_cast<std::size_t>(config_.cells_x) * config_.cells_y);
  for (int cy = 0; cy < config_.cells_y; ++cy) {
    for (int cx = 0; cx < config_.cells_x; ++cx) {
      const auto id = static_cast<std::uint32_t>(cy * config_.cells_x + cx);
      // The last row/column absorbs the remainder so the grid covers the world exactly.
      const Rect rect{{cx * cw, cy * ch},
                      {cx == config_.cells_x - 1 ? config_.width_mm : (cx + 1) * cw,
                       cy == config_.cells_y - 1 ? config_.height_mm : (cy + 1) * ch}};
      cells_.emplace_back(CellId{id}, rect, Rng::stream(config_.seed, "engine.cell", id));
    }
  }
  player_cell_.assign(config_.max_players, -1);
  cell_state_.resize(cells_.size());
  held_epoch_.assign(cells_.size(), 0);
  // Request ids start from this incarnation's birth time, so a late reply to a request of an
  // earlier incarnation of this node can never match one of ours.
  next_req_ = static_cast<std::uint64_t>(std::max<std::int64_t>(env_.clock.now().us(), 0)) << 20;
  if (!config_.cluster.enabled) {
    for (auto& cs : cell_state_) cs.owned = true, cs.epoch = 1;
  } else {
    SHARD_ASSERT(config_.cluster.index >= 1 && config_.cluster.index <= config_.cluster.nodes.size());
    session_of_player_.assign(config_.max_players, -1);
    // A node's slot, from 0, goes into AoiEntry::source below kSourceInFlight.
    SHARD_ASSERT(config_.cluster.nodes.size() < kSourceInFlight - kSourceRemote);
    remote_ghosts_.resize(config_.cluster.nodes.size());
    ghost_out_.resize(config_.cluster.nodes.size());
  }
  const std::int64_t ticks_per_check = config_.density_interval / config_.tick;
  density_every_ = ticks_per_check > 0 ? static_cast<std::uint64_t>(ticks_per_check) : 1;
}

void WorldNode::on_start() {
  // Ticks fall on one grid of the (local) clock, so a restarted node numbers its ticks like the
  // others and a stream handed between nodes keeps increasing tick numbers.
  const Time now = env_.clock.now();
  tick_ = static_cast<std::uint64_t>(now.us() / config_.tick.us());
  next_tick_at_ = Time::from_micros(static_cast<std::int64_t>(tick_ + 1) * config_.tick.us());
  env_.timers.set_timer(next_tick_at_, kTickTimer);
  if (config_.cluster.enabled) {
    // Cells (and their NPCs) come with the directory's assignment.
    next_checkpoint_ = env_.clock.now() + config_.cluster.checkpoint;
    send_heartbeat();
    env_.timers.set_timer(env_.clock.now() + config_.cluster.heartbeat, kHeartbeatTimer);
    return;
  }
  // NPCs exist from the first instant so the first density pass has nothing to catch up on.
  for (auto& cell : cells_)
    for (int i = 0; i < config_.bots_min; ++i) spawn_bot(cell);
}

void WorldNode::on_timer(std::uint64_t tag) {
  if (tag == kHeartbeatTimer) {
    if (!left_) send_heartbeat();
    env_.timers.set_timer(env_.clock.now() + config_.cluster.heartbeat, kHeartbeatTimer);
    tunnel_.flush();
    return;
  }
  SHARD_ASSERT(tag == kTickTimer);
  run_tick();
  tunnel_.flush();
  next_tick_at_ += config_.tick;
  env_.timers.set_timer(next_tick_at_, kTickTimer);
}

std::size_t WorldNode::cell_index_at(Vec2 p) const {
  const auto cx = std::clamp<std::int64_t>(by_cell_width_(p.x), 0, config_.cells_x - 1);
  const auto cy = std::clamp<std::int64_t>(by_cell_height_(p.y), 0, config_.cells_y - 1);
  return static_cast<std::size_t>(cy * config_.cells_x + cx);
}

WorldNode::CellSpan WorldNode::cells_around(Vec2 p, std::int64_t margin) const {
  return {std::clamp<std::int64_t>(by_cell_width_(p.x - margin), 0, config_.cells_x - 1),
          std::clamp<std::int64_t>(by_cell_width_(p.x + margin), 0, config_.cells_x - 1),
          std::clamp<std::int64_t>(by_cell_height_(p.y - margin), 0, config_.cells_y - 1),
          std::clamp<std::int64_t>(by_cell_height_(p.y + margin), 0, config_.cells_y - 1)};
}

Vec2 WorldNode::clamp_to_world(Vec2 p) const {
  return {std::clamp<std::int64_t>(p.x, 0, config_.width_mm - 1),
          std::clamp<std::int64_t>(p.y, 0, config_.height_mm - 1)};
}

void WorldNode::run_tick() {
  ++tick_;
  env_.tracer.record(TraceKind::tick, tick_, 0, 0);
  if (config_.cluster.enabled) cluster_tick();  // lease check first: a fenced node simulates nothing
  move_entities();
  handovers();
  if (tick_ % density_every_ == 0) control_density();
  exchange_ghosts();
  publish_aoi();
  service_channels();
  if (config_.cluster.enabled) {
    send_ghosts();
    send_checkpoints(env_.clock.now() < next_checkpoint_);
    if (env_.clock.now() >= next_checkpoint_) next_checkpoint_ += config_.cluster.checkpoint;
    if (cobs_ != nullptr)
      for (std::size_t ci = 0; ci < cells_.size(); ++ci)
        if (cell_active(ci)) cobs_->on_cell_tick(index(), static_cast<std::uint32_t>(ci), cell_state_[ci].epoch);
  }
  std::uint64_t entities = 0;
  for (const auto& cell : cells_) entities += cell.reals.size();
  stats_.entities_max = std::max(stats_.entities_max, entities);
  if (observer_ != nullptr) observer_->on_tick_end(*this, tick_);
}

inline void WorldNode::step_toward(Entity& e) const {
  const std::int64_t step = e.speed_mm_s * config_.tick.us() / 1'000'000;
  const std::int64_t d2 = dist2(e.pos, e.target);
  if (d2 <= step * step) {
    e.pos = e.target;
    return;
  }
  const std::int64_t d = isqrt(d2);
  SHARD_ASSERT(d > 0);
  const Vec2 delta = e.target - e.pos;
  e.pos = clamp_to_world({e.pos.x + delta.x * step / d, e.pos.y + delta.y * step / d});
}

void WorldNode::move_entities() {
  const std::int64_t wander = 100'000;  // NPCs wander within 100 m of where they stand
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_active(ci)) continue;
    Cell& cell = cells_[ci];
    for (auto& e : cell.reals) {
      if (e.kind == wire::EntityKind::npc && e.pos == e.target) {
        e.target = clamp_to_world({e.pos.x + cell.rng.between(-wander, wander),
                                   e.pos.y + cell.rng.between(-wander, wander)});
        e.speed_mm_s = cell.rng.between(config_.bot_speed_min_mm_s, config_.bot_speed_max_mm_s);
      }
      if (e.pos != e.target) step_toward(e);
    }
  }
}

void WorldNode::handovers() {
  const std::int64_t h = config_.hysteresis_mm;
  // outside_ticks counts tick-end observations; n of them span n - 1 ticks, so staying beyond for the
  // whole dwell takes 1 + ceil(dwell / tick) of them.
  const std::int64_t dwell_ticks =
      1 + (config_.handover_dwell + config_.tick - Duration::micros(1)) / config_.tick;
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_active(ci)) continue;
    Cell& cell = cells_[ci];
    // The rectangle grown by the hysteresis, in locals: the loop moves entities, whose stores the
    // compiler cannot tell from the cell's, so it would reload and recompute these for each one.
    const std::int64_t x_lo = cell.rect.min.x - h;
    const std::int64_t x_hi = cell.rect.max.x + h;
    const std::int64_t y_lo = cell.rect.min.y - h;
    const std::int64_t y_hi = cell.rect.max.y + h;
    std::size_t keep = 0;
    for (std::size_t i = 0; i < cell.reals.size(); ++i) {
      Entity& e = cell.reals[i];
      const bool outside = e.pos.x < x_lo || e.pos.x >= x_hi || e.pos.y < y_lo || e.pos.y >= y_hi;
      e.outside_ticks = outside ? e.outside_ticks + 1 : 0;
      // Only an entity that stayed out for the dwell can move: the others skip the cell lookup,
      // and target == ci means "stays".
      const std::size_t target = e.outside_ticks >= dwell_ticks ? cell_index_at(e.pos) : ci;
      if (target != ci && !cell_active(target)) {
        // The neighbour cell belongs to another node (or is migrating): a cross-node handover for a
        // player; an NPC is simply dropped (the other side keeps its own density).
        e.outside_ticks = 0;
        if (config_.cluster.enabled && e.kind == wire::EntityKind::player) {
          if (e.handing_out == 0 && target < table_.size() && table_[target].owner != 0 &&
              table_[target].owner != index() && !draining_)
            start_handover(ci, e, target);
        } else if (config_.cluster.enabled) {
          ++stats_.npcs_dropped_at_border;
          env_.tracer.record(TraceKind::entity_despawn, e.id.value(), ci, 2);
          continue;
        }
      } else if (target != ci) {
        e.outside_ticks = 0;
        env_.tracer.record(TraceKind::handover_local, e.id.value(), ci, target);
        ++stats_.handovers_local;
        if (e.kind == wire::EntityKind::player)
          player_cell_[e.id.value() - 1] = static_cast<std::int32_t>(target);
        SHARD_ASSERT(target != ci);
        cells_[target].reals.push_back(std::move(e));
        continue;
      }
      if (keep != i) cell.reals[keep] = std::move(e);
      ++keep;
    }
    cell.reals.resize(keep);
  }
}

void WorldNode::spawn_bot(Cell& cell) {
  Entity e;
  e.id = EntityId{next_bot_id_++};
  e.kind = wire::EntityKind::npc;
  e.pos = {cell.rng.between(cell.rect.min.x, cell.rect.max.x - 1),
           cell.rng.between(cell.rect.min.y, cell.rect.max.y - 1)};
  e.target = e.pos;
  ++stats_.bots_spawned;
  env_.tracer.record(TraceKind::entity_spawn, e.id.value(), cell.id.value(), 1);
  cell.reals.push_back(std::move(e));
}

void WorldNode::control_density() {
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_active(ci)) continue;
    Cell& cell = cells_[ci];
    int bots = 0;
    for (const auto& e : cell.reals) bots += e.kind == wire::EntityKind::npc;
    for (; bots < config_.bots_min; ++bots) spawn_bot(cell);
    if (bots <= config_.bots_max) continue;
    // Despawn the most recently added NPCs first: newcomers by handover leave before long-time residents.
    int excess = bots - config_.bots_max;
    for (std::size_t i = cell.reals.size(); i-- > 0 && excess > 0;) {
      if (cell.reals[i].kind != wire::EntityKind::npc) continue;
      env_.tracer.record(TraceKind::entity_despawn, cell.reals[i].id.value(), cell.id.value(), 0);
      ++stats_.bots_despawned;
      cell.reals.erase(cell.reals.begin() + static_cast<std::ptrdiff_t>(i));
      --excess;
    }
  }
}

// Fills the node's AOI index with the reals of its active cells and, in Phase B, with the ghosts of
// players in flight from here and of other nodes' border regions; publish_aoi() builds it.
//
// One index for all the node's cells, not one per cell holding its neighbours' border entities as
// ghosts. In Phase A a query of the outer AOI radius finds the same entities either way: a viewer
// real in cell c is at most owner_slack (per axis) outside c's rectangle, so anything within the
// outer radius of it is within ghost_margin of the rectangle, which is what c's own index held. In
// Phase B a player whose cross-node handover is pending (or refused, or cannot start) stays real in
// its old cell and can walk further out than that (chaos: up to 20 m against a 13.6 m slack); the
// node-wide index still gives it everything in range that this node knows of, where c's own index
// could miss some — more, never less. Copying every border entity into up to three neighbours'
// indices cost more than the whole AOI query (entities_10k: ~13 % of the run in the copies and ~7 %
// in building indices twice the size); ghosts now exist only between nodes, where they are messages.
void WorldNode::exchange_ghosts() {
  index_.clear();
  // A cell frozen for a migration is not simulated, but its entities are still there to be seen,
  // where they stopped, here and (below) on the nodes that border it, until its new owner's ghosts
  // of them arrive (release_cell() keeps them as departed after that).
  const auto visible = [&](std::size_t ci) {
    return config_.cluster.bug_ghost_gap ? cell_active(ci) : cell_state_[ci].owned;
  };
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!visible(ci)) continue;
    for (const auto& e : cells_[ci].reals) index_.add(AoiEntry{e.id, e.pos, e.kind});
  }
  if (!config_.cluster.enabled) return;
  const std::int64_t g = config_.ghost_margin_mm();
  const std::int64_t g2 = g * g;
  // Phase B: collect what send_ghosts() sends to the nodes owning neighbour cells (a cell we do
  // not simulate, within the margin, whose owner the table names), cell by cell, entity by entity,
  // an entity once per node. Nothing between here and send_ghosts() in a tick moves an entity or
  // changes ownership.
  for (auto& out : ghost_out_) out.clear();
  const auto to_owner = [&](std::size_t k, const cluster::GhostEntry& e) {
    if (k >= table_.size() || cell_state_[k].owned) return;
    const std::uint32_t n = table_[k].owner;
    if (n == 0 || n == index() || cells_[k].rect.dist2_to(e.pos) > g2) return;
    auto& out = ghost_out_[n - 1];
    if (!out.empty() && out.back().id == e.id) return;
    out.push_back(e);
  };
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!visible(ci)) continue;
    const bool corners = !config_.cluster.bug_ghost_no_corners;  // the deliberate bug skips them
    const auto own_x = static_cast<std::int64_t>(ci) % config_.cells_x;
    const auto own_y = static_cast<std::int64_t>(ci) / config_.cells_x;
    const auto row = static_cast<std::size_t>(config_.cells_x);
    for (const auto& e : cells_[ci].reals) {
      // A neighbour may be another node's: to_owner() decides (it skips the cells we own).
      const auto elsewhere = [&](std::size_t k) {
        to_owner(k, {e.id.value(), static_cast<std::uint8_t>(e.kind), e.pos});
      };
      CellSpan span;
      if (cells_around_inside(ci, own_x, own_y, e.pos, g, span)) {
        // The entity is inside its cell: the span says which of the eight neighbours its margin
        // reaches (to_owner() checks a corner's distance), named one by one in row order.
        const bool w = span.x0 < own_x;
        const bool east = span.x1 > own_x;
        const bool s = span.y0 < own_y;
        const bool n = span.y1 > own_y;
        if (!(w || east || s || n)) continue;  // deep inside: a ghost nowhere
        if (s) {
          if (w && corners) elsewhere(ci - row - 1);
          elsewhere(ci - row);
          if (east && corners) elsewhere(ci - row + 1);
        }
        if (w) elsewhere(ci - 1);
        if (east) elsewhere(ci + 1);
        if (n) {
          if (w && corners) elsewhere(ci + row - 1);
          elsewhere(ci + row);
          if (east && corners) elsewhere(ci + row + 1);
        }
        continue;
      }
      span = cells_around(e.pos, g);
      for (auto cy = span.y0; cy <= span.y1; ++cy) {
        for (auto cx = span.x0; cx <= span.x1; ++cx) {
          const auto k = static_cast<std::size_t>(cy * config_.cells_x + cx);
          if (k != ci && (corners || cx == own_x || cy == own_y)) elsewhere(k);
        }
      }
    }
  }
  // Players we handed to another node and whose arrival is not confirmed yet stay visible where
  // they left, so those watching them here see no leave/enter while they are in flight.
  in_flight_ghosts_.clear();
  in_transit_ghosts(in_flight_ghosts_);
  for (auto e : in_flight_ghosts_) {
    index_.add(AoiEntry{EntityId{e.id}, e.pos, static_cast<wire::EntityKind>(e.kind), kSourceInFlight});
    // Sent marked as standing, so that a receiver ranks it below the new owner's live ghost.
    if (!config_.cluster.bug_ghost_gap) e.kind |= cluster::kGhostStanding;
    const CellSpan span = cells_around(e.pos, g);
    for (auto cy = span.y0; cy <= span.y1; ++cy) {
      for (auto cx = span.x0; cx <= span.x1; ++cx) {
        const auto k = static_cast<std::size_t>(cy * config_.cells_x + cx);
        if (!cell_active(k)) to_owner(k, e);
      }
    }
  }
  // Ghosts from other nodes' border regions (their last update, if fresh).
  const Time now = env_.clock.now();
  for (std::size_t r = 0; r < remote_ghosts_.size(); ++r) {
    const auto& remote = remote_ghosts_[r];
    if (remote.entries.empty() || now - remote.received > config_.cluster.ghost_ttl) continue;
    const auto source = static_cast<std::uint16_t>(kSourceRemote + r);
    for (const auto& e : remote.entries) {
      // A stale ghost of a player that is real here now (it just moved in) is not indexed. (One of
      // an NPC is, and loses to the real one in keep_one_per_id(): an NPC's id names the node that
      // spawned it, which is not where it lives once its cell has migrated, so the id cannot say.)
      if (e.id >= 1 && e.id <= config_.max_players && player_cell_[e.id - 1] >= 0) continue;
      const bool standing = (e.kind & cluster::kGhostStanding) != 0;
      const auto kind = static_cast<wire::EntityKind>(e.kind & cluster::kGhostKindMask);
      index_.add(AoiEntry{EntityId{e.id}, e.pos, kind, standing ? kSourceInFlight : source});
    }
  }
}

void WorldNode::publish_aoi() {
  index_.build();  // reals and ghosts, added by exchange_ghosts()
  // A player's session, view and the ring slot its frame goes to are cold (a tick touches each
  // once, among a thousand others): fetched in two stages, the session and view two players ahead,
  // the ring slot (its address is in the session) one ahead. With Session line-aligned, cross_node
  // 600 s 7.79 -> 7.43 s, cn60 0.73 -> 0.70 s (medians of 3 and 15 interleaved runs).
  Entity* next1 = nullptr;
  Entity* next2 = nullptr;
  const auto stage = [&](Entity* e) {
    if (next1 != nullptr && next1->session < sessions_.size()) {
      if (const void* slot = sessions_[next1->session].channel.next_slot()) {
        __builtin_prefetch(slot, 1);
        __builtin_prefetch(static_cast<const char*>(slot) + 64, 1);
      }
    }
    if (next2 != nullptr) publish_view(*next2);
    next2 = next1;
    next1 = e;
    if (e != nullptr && e->session < sessions_.size()) {
      const char* s = reinterpret_cast<const char*>(&sessions_[e->session]);
      for (int k = 0; k < 4; ++k) __builtin_prefetch(s + 64 * k);  // a Session: four lines
      __builtin_prefetch(e->view.data());
    }
  };
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_active(ci)) continue;
    for (auto& e : cells_[ci].reals)
      if (e.kind == wire::EntityKind::player) stage(&e);
  }
  stage(nullptr);
  stage(nullptr);
}

// Sorts a player's candidates by id, stably (equal ids, possible in Phase B, keep their order).
// A handful of them (3 to 10): std::sort's call and dispatch overhead would dominate, and an
// insertion sort's inner test mispredicts about once per element, since the index returns them in
// bucket order, which is random by id. Up to kRankSortMax, each entry's place is counted without a
// branch — how many entries sort before it — and the entries are scattered to those places, in
// rank_sorted_, which is returned as is: copying them back was a memmove call of a size the
// predictor cannot guess (2 % of cross_node). Returns where the sorted entries are.
AoiEntry* WorldNode::sort_candidates(AoiEntry* cand, std::size_t n) {
  if (n <= kRankSortMax) {
    AoiEntry* const sorted = rank_sorted_.data();  // a member: a local array would be zero-filled
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t id = cand[i].id.value();
      std::size_t rank = 0;
      for (std::size_t j = 0; j < i; ++j) rank += static_cast<std::size_t>(cand[j].id.value() <= id);
      for (std::size_t j = i + 1; j < n; ++j) rank += static_cast<std::size_t>(cand[j].id.value() < id);
      sorted[rank] = cand[i];
    }
    return sorted;
  }
  for (std::size_t k = 1; k < n; ++k) {
    const AoiEntry v = cand[k];
    std::size_t m = k;
    for (; m > 0 && v.id < cand[m - 1].id; --m) cand[m] = cand[m - 1];
    cand[m] = v;
  }
  return cand;
}

// Which copy of an entity the index holds twice a view keeps (lowest first): the real one; then a
// ghost from the node our cell table names as owner of the cell the ghost stands in; then a ghost
// from any other node (a former owner's last word, fresh for up to the ghost TTL); then a copy
// standing where the entity left a node (ours, or another node's sent with kGhostStanding: a
// handover in flight or just acked, a migrated cell's entities, a migration's transfer), while the
// new owner's ghost moves. Among ghosts of one kind, the lowest node slot. Asked only for duplicates,
// in the tick that filled the index (the table does not change in between).
std::uint32_t WorldNode::authority_rank(const AoiEntry& e) const {
  if (e.source == kSourceReal) return 0;
  if (e.source == kSourceInFlight) return 0x20000;
  const std::uint32_t slot = e.source - kSourceRemote;
  const std::size_t k = cell_index_at(e.pos);
  const bool owner = k < table_.size() && table_[k].owner == slot + 1;
  return (owner ? 0x1 : 0x10000) + slot;
}

// Diffs the player's witness (what its client has) against the entities in range now, and sends the
// difference. Entities enter inside the AOI radius and leave only beyond radius + hysteresis, so an
// entity on the rim does not flicker. If the channel refuses the batch, the witness is left unchanged
// and the same diff (plus whatever changed meanwhile) goes out next tick.
void WorldNode::publish_view(Entity& player) {
  const std::int64_t r_in2 = config_.aoi_radius_mm * config_.aoi_radius_mm;
  // The scratch vectors only grow: the query writes candidates, and the merge below writes the new
  // view and the updates, through raw pointers into room sized up front, without a capacity check
  // per element. The new view and the updates are subsets of the candidates.
  if (candidates_.size() < index_.size()) candidates_.resize(index_.size());
  std::size_t n = index_.query(player.pos, config_.aoi_outer_mm(), candidates_.data());
  AoiEntry* const cand = sort_candidates(candidates_.data(), n);
  // Phase B: an entity can briefly be in the index twice (see keep_one_per_id()).
  if (config_.cluster.enabled)
    n = keep_one_per_id(cand, n, [this](const AoiEntry& e) { return authority_rank(e); });
  batch_.clear();
  Session& session = sessions_[player.session];
  // A stream's tick numbers only rise. Nodes number ticks by their own clocks, so a stream handed
  // from a node whose clock is ahead (by a jump beyond the drift allowance, or by less than a tick
  // within it) would go back, or repeat a number, and a client that drops what is not newer than
  // what it has would drop its new owner's first batches. The handover carries the last number
  // (PlayerTransfer::stream_tick); with clocks that agree this is always tick_.
  batch_.tick = std::max(tick_, session.last_tick + 1);
  const bool hold = session.hold_witness > 0;
  if (hold) --session.hold_witness;
  new_view_.resize(hold ? n + player.view.size() : n);  // a held witness entry is not a candidate
  if (updates_.size() < n) updates_.resize(n);  // grows to the high-water mark, then never again
  ViewEntry* out_view = new_view_.data();
  wire::AoiUpdate* out_update = updates_.data();
  const ViewEntry* v = player.view.data();
  const ViewEntry* const v_end = v + player.view.size();
  const AoiEntry* c = cand;
  const AoiEntry* const c_end = cand + n;
  while (v != v_end || c != c_end) {
    if (c == c_end || (v != v_end && v->id < c->id)) {
      if (hold)
        *out_view++ = *v;  // not known here yet (Session::hold_witness): kept, not left
      else
        batch_.leaves.push_back(v->id);
      ++v;
    } else if (v == v_end || c->id < v->id) {
      if (dist2(c->pos, player.pos) <= r_in2) {
        batch_.enters.push_back({c->id, c->kind, c->pos});
        *out_view++ = {c->id, c->pos};
      }
      ++c;
    } else {
      if (c->pos != v->sent_pos) *out_update++ = {c->id, c->pos - v->sent_pos};
      *out_view++ = {c->id, c->pos};
      ++v;
      ++c;
    }
  }
  new_view_.resize(static_cast<std::size_t>(out_view - new_view_.data()));
  const wire::AoiBatchRef batch{batch_.tick, batch_.enters,
                                {updates_.data(), static_cast<std::size_t>(out_update - updates_.data())},
                                batch_.leaves};
  ++stats_.aoi_client_ticks;
  if (batch.empty()) return;
  // Encoded in place, behind the channel's frame header (no intermediate byte vector).
  std::size_t size = 0;
  const bool sent = session.channel.send_encoded(
      wire::encoded_max(batch), env_.clock.now(), channel_transport(session), session.client,
      [&](std::span<std::uint8_t> room) { return size = wire::encode(batch, room); });
  if (!sent) {
    ++stats_.channel_overflows;
    env_.tracer.record(TraceKind::channel_overflow, player.id.value(), session.client.value(), 0);
    return;
  }
  session.last_tick = batch_.tick;
  ++stats_.aoi_messages;
  stats_.aoi_bytes += size;
  stats_.aoi_enters += batch_.enters.size();
  stats_.aoi_leaves += batch_.leaves.size();
  player.view.swap(new_view_);
}

void WorldNode::service_channels() {
  const Time now = env_.clock.now();
  for (auto& s : sessions_) {
    if (!s.live || s.frozen) continue;  // a migrating player's stream is paused with its state
    Transport& t = channel_transport(s);
    const std::uint32_t resent = s.channel.retransmit_due(now, t, s.client);
    if (resent > 0) {
      stats_.retransmits += resent;
      env_.tracer.record(TraceKind::channel_retransmit, s.client.value(), resent, 0);
    }
    s.channel.flush_ack(t, s.client);
  }
}

Transport& WorldNode::channel_transport(Session& s) {
  if (!config_.cluster.enabled) return env_.transport;
  tunnel_.msg.player = s.player_id;
  tunnel_.msg.gen = s.gen;
  tunnel_.msg.chan_epoch = s.chan_epoch;
  return tunnel_;
}

void WorldNode::send_to_client(Session& s, std::span<const std::uint8_t> payload) {
  if (!s.channel.send(payload, env_.clock.now(), channel_transport(s), s.client)) {
    ++stats_.channel_overflows;
    env_.tracer.record(TraceKind::channel_overflow, s.player_id, s.client.value(), 1);
  }
}

Entity* WorldNode::find_player(std::uint64_t player_id) {
  if (player_id == 0 || player_id > config_.max_players) return nullptr;
  const std::int32_t ci = player_cell_[player_id - 1];
  if (ci < 0) return nullptr;
  for (auto& e : cells_[static_cast<std::size_t>(ci)].reals)
    if (e.id.value() == player_id) return &e;
  return nullptr;
}

void WorldNode::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  if (config_.cluster.enabled) {
    on_cluster_message(from, bytes);
    tunnel_.flush();
    return;
  }
  if (from.value() >= session_of_host_.size()) session_of_host_.resize(from.value() + 1, kNoSession);
  std::uint32_t& found = session_of_host_[from.value()];
  if (found == kNoSession) {
    const std::uint32_t limit = config_.sessions_max != 0 ? config_.sessions_max : config_.max_players;
    if (sessions_.size() >= limit) {
      ++stats_.rejected_sessions;
      env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 2);
      return;
    }
    found = static_cast<std::uint32_t>(sessions_.size());
    sessions_.push_back(Session{.client = from, .channel = ReliableChannel{config_.channel}});
  }
  Session& session = sessions_[found];
  const auto result = session.channel.on_frame(
      bytes, env_.transport, from,
      [&](std::span<const std::uint8_t> payload) { handle_payload(session, payload); });
  if (result == ReliableChannel::FrameResult::malformed) {
    ++stats_.decode_errors;
    env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 0);
  }
}

void WorldNode::handle_payload(Session& session, std::span<const std::uint8_t> payload) {
  wire::MsgType type;
  bool ok = wire::peek_type(payload, type);
  if (ok && type == wire::MsgType::join) {
    wire::Join join;
    ok = wire::decode(payload, join);
    if (ok) on_join(session, join);
  } else if (ok && type == wire::MsgType::move_input) {
    wire::MoveInput input;
    ok = wire::decode(payload, input);
    if (ok) on_move(session, input);
  } else if (ok && type == wire::MsgType::action) {
    wire::Action action;
    ok = wire::decode(payload, action);
    if (ok) on_action(session, action);
  } else {
    ok = false;
  }
  if (!ok) {
    ++stats_.decode_errors;
    env_.tracer.record(TraceKind::decode_error, session.client.value(), payload.size(), 1);
  }
}

void WorldNode::on_join(Session& session, const wire::Join& join) {
  // Phase A sessions learn their player from the join; Phase B sessions are per player already.
  const bool wrong_session = config_.cluster.enabled ? session.player_id != join.player_id
                                                     : session.player_id != 0;
  if (wrong_session || join.player_id == 0 || join.player_id > config_.max_players ||
      player_cell_[join.player_id - 1] >= 0) {
    ++stats_.rejected_joins;  // a second join, an id out of range, or a player already in the world
    return;
  }
  const Vec2 spawn = clamp_to_world(join.spawn);
  const std::size_t ci = cell_index_at(spawn);
  if (config_.cluster.enabled) {
    // Phase B: the store decides whether this player is new (cas from "absent"); it spawns on success.
    if (!cell_active(ci) || !lease_valid()) {
      ++stats_.rejected_joins;
      return;
    }
    cluster::StoreCas cas;
    cas.req = ++next_req_;
    cluster::PlayerRecord rec;
    rec.player = join.player_id;
    rec.owner = index();
    rec.lease = lease_id_;
    rec.cell = static_cast<std::uint32_t>(ci);
    rec.pos = spawn;
    rec.target = spawn;
    rec.chan_epoch = 1;
    rec.gateway = static_cast<std::uint32_t>(session.client.value());
    cas.entries.push_back({0, rec});
    auth_.seal(cluster::Msg::store_cas, cas, env_.transport.self(), sealed_);
    store_request(StoreReq::Kind::join, join.player_id, cluster::Msg::store_cas, sealed_);
    return;
  }
  session.player_id = join.player_id;
  Entity e;
  e.id = EntityId{join.player_id};
  e.kind = wire::EntityKind::player;
  e.pos = spawn;
  e.target = e.pos;
  SHARD_ASSERT(session.client.value() < session_of_host_.size());
  e.session = session_of_host_[session.client.value()];
  SHARD_ASSERT(e.session != kNoSession);
  player_cell_[join.player_id - 1] = static_cast<std::int32_t>(ci);
  ++players_spawned_;
  env_.tracer.record(TraceKind::entity_spawn, e.id.value(), ci, 0);
  cells_[ci].reals.push_back(std::move(e));
}

void WorldNode::on_move(Session& session, const wire::MoveInput& input) {
  Entity* e = find_player(session.player_id);
  if (e == nullptr) return;  // input before the join completed: the client sends a fresh one later
  e->target = clamp_to_world(input.target);
  e->speed_mm_s = std::clamp<std::int64_t>(input.speed_mm_s, 0, config_.player_speed_max_mm_s);
  ++stats_.inputs;
  env_.tracer.record(TraceKind::client_input, e->id.value(), static_cast<std::uint64_t>(e->target.x),
                     static_cast<std::uint64_t>(e->target.y));
}

// Applies a durable action to the ledger exactly once and in order: seq == ledger_seq + 1 applies,
// seq <= ledger_seq is a repeat (the client re-sends what was not acknowledged, e.g. after a
// restore), a gap waits for the client's re-send. The client hears "acknowledged" only once the
// store has it (see send_checkpoints / on_write_reply).
void WorldNode::on_action(Session& session, const wire::Action& action) {
  Entity* e = find_player(session.player_id);
  if (e == nullptr) return;
  if (action.seq == e->ledger_seq + 1) {
    e->ledger_seq = action.seq;
    e->ledger_value += action.amount;
    ++stats_.actions;
  }
  if (config_.cluster.bug_ack_before_durable || !config_.cluster.enabled) {
    // Phase A has no store: memory is all there is. (With the bug, Phase B lies the same way.)
    e->durable_seq = std::max(e->durable_seq, e->ledger_seq);
  }
  if (e->acked_seq < e->durable_seq) {
    e->acked_seq = e->durable_seq;
    bytes_.clear();
    wire::encode(wire::ActionAck{e->acked_seq}, bytes_);
    send_to_client(session, bytes_);
    env_.tracer.record(TraceKind::action_ack, e->id.value(), e->acked_seq, 0);
  }
}

}  // namespace shardsim
