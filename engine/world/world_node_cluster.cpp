// WorldNode, Phase B: leases, the directory's table, cross-node handover, cell migration, failover
// restore, checkpoints and write-through. See docs/adr/0002..0004 for the protocol and its reasons.
//
// Source-side handover state machine (per handover id, `outbound_`):
//   requested --ready--> committed --ack--> done (target authoritative)
//       |  reject / timeout x request_tries        | nack / timeout x commit_tries
//       v                                          v
//   aborted (player never left)              resolving: cas(player, gen -> gen+1, owner = us)
//                                              ok: we take it back (aborted); fail: the target has it
// Target side: request -> ready if we own the cell at that epoch with a valid lease; commit ->
// cas(player, gen -> gen+1, owner = us) -> install, ack, route update. A repeated commit (same hid)
// is acked again, never installed twice; the store's cas makes source and target exclusive.
#include <algorithm>

#include "engine/core/assert.h"
#include "engine/wire/buffer.h"
#include "engine/world/world_node.h"

namespace shardsim {

using cluster::Msg;

namespace {
constexpr std::size_t kInstalledKeep = 4096;
constexpr std::size_t kHeartbeatsKeep = 16;

void encode_view(const std::vector<ViewEntry>& view, std::vector<std::uint8_t>& out) {
  cluster::Enc e{out};
  e.put(view.size());
  for (const auto& v : view) {
    e.put(v.id.value());
    e.put(wire::zigzag(v.sent_pos.x));
    e.put(wire::zigzag(v.sent_pos.y));
  }
}

bool decode_view(std::span<const std::uint8_t> in, std::vector<ViewEntry>& view) {
  wire::Reader r{in};
  const std::uint64_t n = r.varint();
  if (!r.ok() || n > r.remaining()) return false;
  view.clear();
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    ViewEntry v;
    v.id = EntityId{r.varint()};
    v.sent_pos.x = r.svarint();
    v.sent_pos.y = r.svarint();
    if (!view.empty() && !(view.back().id < v.id)) return false;
    view.push_back(v);
  }
  return r.ok() && r.at_end();
}
}  // namespace

void TunnelTransport::send(HostId to, std::span<const std::uint8_t> bytes) {
  Batch* b = nullptr;
  for (auto& x : batches_)
    if (x.to == to) b = &x;
  if (b == nullptr) b = &batches_.emplace_back(Batch{to, {}});
  // An item never splits; a batch that would outgrow a datagram goes first.
  if (!b->body.empty() && b->body.body_size() + bytes.size() + 32 > kBatchBytes) flush(*b);
  // The gateway decodes each item with TunnelView::fields.
  b->body.add(msg.player, msg.gen, msg.chan_epoch, bytes);
  pending_ = true;
}

void TunnelTransport::flush(Batch& b) {
  inner_.send(b.to, b.body.seal(auth_, inner_.self()));
}

void TunnelTransport::flush() {
  if (!pending_) return;
  for (auto& b : batches_)
    if (!b.body.empty()) flush(b);
  pending_ = false;
}

template <class M>
void WorldNode::send_cluster(HostId to, Msg type, M& m) {
  tunnel_.flush();  // keep this node's sends to a gateway in order
  auth_.seal(type, m, env_.transport.self(), sealed_);
  env_.transport.send(to, sealed_);
}

bool WorldNode::lease_valid() const {
  if (lease_id_ == 0) return false;
  // The bug: trust the lease for as long as nobody says otherwise, whatever the clock says.
  if (config_.cluster.bug_skip_lease_check) return true;
  return env_.clock.now() < lease_until_;
}

void WorldNode::drain() {
  if (draining_ || left_) return;
  draining_ = true;
  send_heartbeat();
  tunnel_.flush();
}

void WorldNode::send_heartbeat() {
  const Time now = env_.clock.now();
  cluster::Heartbeat hb;
  hb.node = index();
  hb.lease = lease_id_;
  if (lease_id_ == 0 && lease_nonce_ == 0) lease_nonce_ = (static_cast<std::uint64_t>(now.us()) << 8) | index();
  hb.nonce = lease_id_ == 0 ? lease_nonce_ : 0;
  hb.seq = ++hb_seq_;
  std::uint64_t load = 0;
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_state_[ci].owned) continue;
    load += cells_[ci].reals.size();
    hb.cell_loads.push_back(ci);
    hb.cell_loads.push_back(cells_[ci].reals.size());
  }
  hb.load = load;
  hb.draining = draining_;
  hb_sent_[hb.seq] = now;
  while (hb_sent_.size() > kHeartbeatsKeep) hb_sent_.erase(hb_sent_.begin());
  send_cluster(config_.cluster.directory, Msg::heartbeat, hb);
}

void WorldNode::on_table(const cluster::Table& t) {
  if (t.lease == 0) {
    // The directory says we hold no lease (it expired, or never existed): stop everything.
    if (lease_id_ != 0) fence("lease gone");
    return;
  }
  if (lease_id_ == 0) {
    // Only the answer to our own request grants us a lease: an ack still in flight from before a
    // fence names the lease we gave up, and taking it back would reuse its epochs.
    if (lease_nonce_ == 0 || t.nonce != lease_nonce_) return;
    lease_id_ = t.lease;
    lease_nonce_ = 0;
    // NPC ids come from the lease: the directory never grants one twice, so ids stay unique across
    // a restart (a restarted node counting again from its index reused the ids of NPCs its former
    // self had migrated away, which the cluster AOI oracle found as one id in two places).
    next_bot_id_ = config_.max_players + 1ULL + (lease_id_ << 32);
  }
  if (t.lease != lease_id_) return;  // an ack for a lease we no longer hold
  const auto sent = hb_sent_.find(t.seq);
  if (sent != hb_sent_.end()) {
    // Valid from when we *sent* the renewal, minus the drift allowance: conservative on both ends.
    const Time until = sent->second + config_.cluster.lease - config_.cluster.drift_allowance;
    if (until > lease_until_) lease_until_ = until;
  }
  if (t.version < table_version_) return;
  table_version_ = t.version;
  table_ = t.cells;
  // A lease gone from the table: its owner's players may have records in our cells.
  for (std::size_t i = 0; i < table_leases_.size() && i < t.leases.size(); ++i)
    if (table_leases_[i] != 0 && t.leases[i] != table_leases_[i]) restore_due_ = true;
  table_leases_ = t.leases;
  if (lease_valid()) apply_table();
}

void WorldNode::apply_table() {
  for (std::size_t ci = 0; ci < cells_.size() && ci < table_.size(); ++ci) {
    const cluster::CellEntry& e = table_[ci];
    CellState& cs = cell_state_[ci];
    if (e.owner == index()) {
      if (!cs.owned) {
        // Never at an epoch we already held: a table older than our own last move (an ack that
        // left the directory before the migration it does not show) must not hand a cell back.
        if (migrations_in_.count(static_cast<std::uint32_t>(ci)) == 0 && e.epoch > held_epoch_[ci])
          acquire_cell(ci, e.epoch, e.restore_from != 0 ? 1 : 0);
        continue;
      }
      if (cs.frozen && e.migrate_to == 0) {
        // The directory called the migration off (its target's lease lapsed before it finished):
        // simulate the cell again. Players the dead target already took in the store come back
        // to us through the orphan restore its lapsed lease triggers (on_restore_reply).
        cs.frozen = false;
        cs.transfer_sent = false;
        cs.migrate_to = 0;
        for (auto& p : cells_[ci].reals)
          if (p.kind == wire::EntityKind::player) sessions_[p.session].frozen = false;
        continue;
      }
      if (e.migrate_to != 0 && e.migrate_to != cs.migrate_to) {
        if (!cs.frozen) {
          // Planned migration: freeze the cell at this tick boundary. Handovers that have not
          // committed yet are called off (their players stay and move with the cell).
          cs.frozen = true;
          for (auto it = outbound_.begin(); it != outbound_.end();) {
            auto next = std::next(it);
            if (it->second.phase == Outbound::Phase::requested && it->second.from_cell == ci)
              abort_outbound(it->first, 3);
            it = next;
          }
          for (auto& p : cells_[ci].reals)
            if (p.kind == wire::EntityKind::player) sessions_[p.session].frozen = true;
        }
        cs.migrate_to = e.migrate_to;
        cs.transfer_sent = false;
      }
    } else if (cs.owned && e.epoch >= cs.epoch) {
      // Someone else holds it now: stop at once. A frozen cell whose transfer ack was lost ends
      // here too, its migration done.
      if (cs.frozen && cs.transfer_sent && e.owner == cs.migrate_to) ++stats_.migrations_out;
      const bool migrated = cs.frozen && e.owner == cs.migrate_to;
      if (!migrated) {
        // Taken from us without a transfer: our players here would be stranded in the store under
        // our live lease. Hand them to whoever restores orphans.
        std::vector<cluster::PlayerTransfer> ours;
        for (auto& p : cells_[ci].reals)
          if (p.kind == wire::EntityKind::player) ours.push_back({record_of(p, static_cast<std::uint32_t>(ci)), {}, {}, 0, 0});
        orphan_players(ours);
      }
      release_cell(ci, migrated ? 1 : 2);
    }
  }
}

void WorldNode::acquire_cell(std::size_t ci, std::uint64_t epoch, std::uint64_t how) {
  CellState& cs = cell_state_[ci];
  cs = CellState{};
  cs.owned = true;
  cs.epoch = epoch;
  cs.acquired = env_.clock.now();
  held_epoch_[ci] = std::max(held_epoch_[ci], epoch);
  env_.tracer.record(TraceKind::cell_acquire, ci, epoch, how);
  if (cobs_ != nullptr) cobs_->on_cell_acquire(index(), static_cast<std::uint32_t>(ci), epoch);
  if (how != 2)
    for (int i = 0; i < config_.bots_min; ++i) spawn_bot(cells_[ci]);
  // A cell taken over by migration may hold records of a node that died meanwhile (a migration
  // target that took them in the store and then died): sweep for orphans in it too.
  if (how == 2) restore_due_ = true;
  if (how == 1) {
    // Failover: the players whose records say this cell and whose owner's lease is gone.
    cs.restoring = true;
    restore_due_ = true;
  }
}

// Asks the store for every player whose record says one of our cells and whose owner's lease is
// gone (see StoreRestore): after a failover, and whenever a lease disappears from the table.
void WorldNode::send_restore() {
  restore_due_ = false;
  cluster::StoreRestore m;
  m.req = ++next_req_;
  m.to = index();
  m.leases = table_leases_;
  for (std::size_t ci = 0; ci < cells_.size(); ++ci)
    if (cell_state_[ci].owned && !cell_state_[ci].transfer_sent) m.cells.push_back(ci);
  if (m.cells.empty()) return;
  auth_.seal(Msg::store_restore, m, env_.transport.self(), sealed_);
  store_request(StoreReq::Kind::restore, 0, Msg::store_restore, sealed_);
}

void WorldNode::release_cell(std::size_t ci, std::uint64_t why) {
  Cell& cell = cells_[ci];
  // Migrated (why 1): the cell's entities now live on its new owner, whose ghosts of them reach
  // our viewers a tick and a network delay from now. Until then they stay where they stood.
  if (why == 1)
    for (const auto& e : cell.reals) depart(e.id.value(), e.kind, e.pos);
  for (auto& e : cell.reals) {
    if (e.kind != wire::EntityKind::player) continue;
    drop_player_session(e);
    player_cell_[e.id.value() - 1] = -1;
  }
  cell.reals.clear();
  env_.tracer.record(TraceKind::cell_release, ci, cell_state_[ci].epoch, why);
  cell_state_[ci] = CellState{};
  if (cobs_ != nullptr) cobs_->on_cell_release(index(), static_cast<std::uint32_t>(ci));
}

void WorldNode::fence(const char* why) {
  (void)why;
  std::uint64_t dropped = 0;
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_state_[ci].owned) continue;
    release_cell(ci, 0);
    ++dropped;
  }
  // Players in flight stay with the store: whoever restores or installs them takes them from there.
  outbound_.clear();
  departed_.clear();
  installing_.clear();
  migrations_in_.clear();
  store_reqs_.clear();
  lease_id_ = 0;
  lease_nonce_ = 0;
  lease_until_ = Time::zero();
  ++stats_.fences;
  env_.tracer.record(TraceKind::fence, index(), dropped, 0);
}

std::uint32_t WorldNode::new_session(HostId peer, std::uint64_t player, std::uint64_t chan_epoch) {
  std::uint32_t s;
  if (!free_sessions_.empty()) {
    s = free_sessions_.back();
    free_sessions_.pop_back();
    sessions_[s] = Session{.client = peer, .player_id = player, .chan_epoch = chan_epoch,
                           .channel = ReliableChannel{config_.channel}};
  } else {
    s = static_cast<std::uint32_t>(sessions_.size());
    sessions_.push_back(Session{.client = peer, .player_id = player, .chan_epoch = chan_epoch,
                                .channel = ReliableChannel{config_.channel}});
  }
  session_of_player_[player - 1] = static_cast<std::int32_t>(s);
  return s;
}

void WorldNode::drop_player_session(Entity& e) {
  const std::int32_t s = session_of_player_[e.id.value() - 1];
  if (s < 0) return;
  sessions_[static_cast<std::size_t>(s)] = Session{};
  sessions_[static_cast<std::size_t>(s)].live = false;
  free_sessions_.push_back(static_cast<std::uint32_t>(s));
  session_of_player_[e.id.value() - 1] = -1;
}

cluster::PlayerRecord WorldNode::record_of(const Entity& e, std::uint32_t cell) const {
  cluster::PlayerRecord r;
  r.player = e.id.value();
  r.gen = e.gen;
  r.owner = index();
  r.lease = lease_id_;
  r.cell = cell;
  r.pos = e.pos;
  r.target = e.target;
  r.speed = e.speed_mm_s;
  r.ledger_seq = e.ledger_seq;
  r.ledger_value = e.ledger_value;
  const Session& s = sessions_[e.session];
  r.chan_epoch = s.chan_epoch;
  r.gateway = static_cast<std::uint32_t>(s.client.value());
  return r;
}

cluster::PlayerTransfer WorldNode::save_player(Entity& e) {
  cluster::PlayerTransfer t;
  t.rec = record_of(e, static_cast<std::uint32_t>(player_cell_[e.id.value() - 1]));
  encode_view(e.view, t.view);
  sessions_[e.session].channel.save(t.channel);
  t.acked_seq = e.acked_seq;
  t.durable_seq = e.durable_seq;
  t.stream_tick = sessions_[e.session].last_tick;
  return t;
}

void WorldNode::install_player(std::size_t ci, const cluster::PlayerTransfer& t, std::uint64_t gen,
                               bool fresh_stream) {
  const cluster::PlayerRecord& r = t.rec;
  SHARD_ASSERT(r.player >= 1 && r.player <= config_.max_players);
  if (player_cell_[r.player - 1] >= 0) return;  // already here
  Entity e;
  e.id = EntityId{r.player};
  e.kind = wire::EntityKind::player;
  e.pos = clamp_to_world(r.pos);
  e.target = clamp_to_world(r.target);
  e.speed_mm_s = std::clamp<std::int64_t>(r.speed, 0, config_.player_speed_max_mm_s);
  e.gen = gen;
  e.ledger_seq = r.ledger_seq;
  e.ledger_value = r.ledger_value;
  // From the store everything is durable; in a transfer, what the source knew.
  e.durable_seq = fresh_stream ? r.ledger_seq : t.durable_seq;
  e.acked_seq = fresh_stream ? r.ledger_seq : t.acked_seq;
  // A rebuilt stream gets a new epoch (the client resets and hears everything afresh).
  const std::uint64_t chan_epoch = fresh_stream ? gen : r.chan_epoch;
  e.session = new_session(HostId{r.gateway}, r.player, chan_epoch);
  Session& s = sessions_[e.session];
  s.gen = gen;
  s.frozen = cell_state_[ci].frozen;  // a migrating cell's streams pause with it
  if (!fresh_stream) {
    if (!decode_view(t.view, e.view) || !s.channel.load(t.channel, env_.clock.now())) {
      // A transfer we cannot read: start the stream afresh rather than lose the player.
      e.view.clear();
      s.channel = ReliableChannel{config_.channel};
      s.chan_epoch = gen;
      ++stats_.decode_errors;
    } else {
      s.last_tick = t.stream_tick;
      // Into a cell that became ours moments ago (migrated with it, or handed over into it): see
      // witness_hold_ticks().
      s.hold_witness = witness_hold_ticks(ci);
    }
  }
  player_cell_[r.player - 1] = static_cast<std::int32_t>(ci);
  cells_[ci].reals.push_back(std::move(e));
  cluster::RouteUpdate ru{r.player, gen};
  send_cluster(HostId{r.gateway}, Msg::route_update, ru);
}

std::uint16_t WorldNode::witness_hold_ticks(std::size_t ci) const {
  if (config_.cluster.bug_ghost_gap) return 0;
  const Duration hold = config_.witness_hold();
  const Time until = cell_state_[ci].acquired + hold;
  const Time now = env_.clock.now();
  if (now >= until) return 0;
  // At most the nominal hold, should the clock have jumped back since the cell became ours.
  const std::int64_t ticks = std::min((until - now).us(), hold.us()) / config_.tick.us() + 1;
  return static_cast<std::uint16_t>(std::min<std::int64_t>(ticks, 0xffff));
}

std::uint64_t WorldNode::store_request(StoreReq::Kind kind, std::uint64_t key, Msg type,
                                       std::vector<std::uint8_t>& sealed) {
  (void)type;
  StoreReq r;
  r.kind = kind;
  r.key = key;
  r.bytes = sealed;
  r.retry_at = env_.clock.now() + config_.cluster.store_timeout;
  // The request id is the first varint of the body, which every store message starts with.
  wire::Reader rd{std::span<const std::uint8_t>{sealed}.subspan(2)};
  const std::uint64_t req = rd.varint();
  env_.transport.send(config_.cluster.store, sealed);
  store_reqs_[req] = std::move(r);
  return req;
}

void WorldNode::retry_requests() {
  const Time now = env_.clock.now();
  for (auto it = store_reqs_.begin(); it != store_reqs_.end();) {
    StoreReq& r = it->second;
    if (now < r.retry_at) {
      ++it;
      continue;
    }
    if (r.kind == StoreReq::Kind::write) {
      it = store_reqs_.erase(it);  // the entities' write_due lets the next tick write again
      continue;
    }
    r.retry_at = now + config_.cluster.store_timeout;
    env_.transport.send(config_.cluster.store, r.bytes);
    ++it;
  }
  for (auto it = outbound_.begin(); it != outbound_.end();) {
    const std::uint64_t hid = it->first;
    Outbound& o = it->second;
    ++it;
    if (now < o.deadline) continue;
    if (o.phase == Outbound::Phase::requested) {
      if (o.tries >= config_.cluster.request_tries) {
        abort_outbound(hid, 1);
        continue;
      }
      ++o.tries;
      ++stats_.handover_retries;
      o.deadline = now + config_.cluster.request_timeout;
      cluster::HoRequest m{hid, o.player, o.from_cell, o.to_cell, o.to_epoch};
      send_cluster(config_.cluster.nodes[o.to_node - 1], Msg::ho_request, m);
    } else if (o.phase == Outbound::Phase::committed) {
      if (o.tries >= config_.cluster.commit_tries) {
        resolve_outbound(hid);
        continue;
      }
      ++o.tries;
      ++stats_.handover_retries;
      o.deadline = now + config_.cluster.commit_timeout;
      send_cluster(config_.cluster.nodes[o.to_node - 1], Msg::ho_commit, o.commit);
    }
  }
  for (auto& [cell, mg] : migrations_in_) {
    if (!mg.directory_done || now < mg.retry_at) continue;
    mg.retry_at = now + config_.cluster.store_timeout;
    cluster::MigrationDone m{cell, mg.transfer.from, index(), mg.transfer.epoch, false};
    send_cluster(config_.cluster.directory, Msg::migration_done, m);
  }
}

void WorldNode::cluster_tick() {
  if (lease_id_ != 0 && !lease_valid()) fence("lease expired");
  retry_requests();
  // Orphans (records whose owner holds no lease, or none at all) are swept after every lease change
  // and, as a backstop for the rare orphan made after such a sweep, every two seconds.
  if (lease_valid() && env_.clock.now() >= next_orphan_sweep_) {
    restore_due_ = true;
    next_orphan_sweep_ = env_.clock.now() + Duration::seconds(2);
  }
  // One restore in flight at a time: the store remembers only its last answer per node, which a
  // retry (lost reply) must still find — a second request would replace it, and the records the
  // first moved to us would come back to nobody.
  bool restoring = false;
  for (const auto& [req, r] : store_reqs_) restoring = restoring || r.kind == StoreReq::Kind::restore;
  if (restore_due_ && lease_valid() && !restoring) send_restore();
  const Time now = env_.clock.now();
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    CellState& cs = cell_state_[ci];
    if (!cs.frozen || cs.migrate_to == 0 || (cs.transfer_sent && now < cs.retry_at)) continue;
    send_transfer(ci);
  }
  if (draining_ && !left_) {
    bool owns = false;
    for (const auto& cs : cell_state_) owns = owns || cs.owned;
    // The departed copies of the last cells go on being ghosted (departed_for()) until the new
    // owners' ghosts have surely reached every node that watches them; without a lease we could
    // not send them.
    if (!owns && outbound_.empty() && installing_.empty() && departed_.empty() && lease_id_ != 0) {
      // Everything has moved and is durable at its new owners: give the lease back.
      cluster::Leave l{index(), lease_id_};
      send_cluster(config_.cluster.directory, Msg::leave, l);
      left_ = true;
      env_.tracer.record(TraceKind::lease_change, index(), lease_id_, 3);
      lease_id_ = 0;  // given back: nothing left to fence
    }
  }
}

// --- cross-node handover, source side ---

void WorldNode::start_handover(std::size_t ci, Entity& e, std::size_t target) {
  if (!lease_valid() || cell_state_[ci].frozen) return;
  // Unique across the cluster and across restarts: lease ids are never reused by the directory.
  const std::uint64_t hid = (lease_id_ << 32) | (++next_hid_ & 0xFFFF'FFFF);
  e.handing_out = hid;
  Outbound o;
  o.player = e.id.value();
  o.from_cell = static_cast<std::uint32_t>(ci);
  o.to_cell = static_cast<std::uint32_t>(target);
  o.to_node = table_[target].owner;
  o.to_epoch = table_[target].epoch;
  o.tries = 1;
  o.started = env_.clock.now();
  o.deadline = env_.clock.now() + config_.cluster.request_timeout;
  cluster::HoRequest m{hid, o.player, o.from_cell, o.to_cell, o.to_epoch};
  send_cluster(config_.cluster.nodes[o.to_node - 1], Msg::ho_request, m);
  ++stats_.handovers_started;
  env_.tracer.record(TraceKind::handover_start, hid, o.player, target);
  if (cobs_ != nullptr) cobs_->on_handover_start(hid, o.player, index(), o.to_node);
  outbound_.emplace(hid, std::move(o));
}

void WorldNode::on_ho_ready(const cluster::HoReply& m) {
  auto it = outbound_.find(m.hid);
  if (it == outbound_.end() || it->second.phase != Outbound::Phase::requested) return;
  Outbound& o = it->second;
  Entity* e = find_player(o.player);
  if (e == nullptr || e->handing_out != m.hid || !lease_valid() || !cell_active(o.from_cell) ||
      player_cell_[o.player - 1] != static_cast<std::int32_t>(o.from_cell)) {
    abort_outbound(m.hid, 2);
    return;
  }
  // Commit: from here the player is in transit — we no longer simulate it.
  e->handing_out = 0;
  e->outside_ticks = 0;
  o.commit.hid = m.hid;
  o.commit.to_cell = o.to_cell;
  o.commit.to_epoch = o.to_epoch;
  o.commit.player = save_player(*e);
  const HostId gateway{o.commit.player.rec.gateway};
  cluster::RouteUpdate hold{o.player, e->gen};
  drop_player_session(*e);
  auto& reals = cells_[o.from_cell].reals;
  for (std::size_t i = 0; i < reals.size(); ++i) {
    if (reals[i].id.value() != o.player) continue;
    reals.erase(reals.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  player_cell_[o.player - 1] = -1;
  send_cluster(gateway, Msg::hold, hold);
  send_cluster(config_.cluster.nodes[o.to_node - 1], Msg::ho_commit, o.commit);
  o.phase = Outbound::Phase::committed;
  o.tries = 1;
  o.deadline = env_.clock.now() + config_.cluster.commit_timeout;
  ++stats_.handovers_committed;
  env_.tracer.record(TraceKind::handover_commit, m.hid, o.player, o.commit.player.rec.gen);
  if (cobs_ != nullptr) cobs_->on_handover_commit(m.hid, o.player);
}

void WorldNode::on_ho_reject(const cluster::HoReply& m) {
  auto it = outbound_.find(m.hid);
  if (it != outbound_.end() && it->second.phase == Outbound::Phase::requested)
    abort_outbound(m.hid, 10 + m.reason);
}

void WorldNode::abort_outbound(std::uint64_t hid, std::uint64_t reason) {
  auto it = outbound_.find(hid);
  SHARD_ASSERT(it != outbound_.end());
  const std::uint64_t player = it->second.player;
  if (Entity* e = find_player(player); e != nullptr && e->handing_out == hid) e->handing_out = 0;
  outbound_.erase(it);
  ++stats_.handovers_aborted;
  env_.tracer.record(TraceKind::handover_abort, hid, player, reason);
  if (cobs_ != nullptr) cobs_->on_handover_end(hid, player, false);
}

void WorldNode::on_ho_ack(const cluster::HoReply& m) {
  auto it = outbound_.find(m.hid);
  if (it == outbound_.end() || it->second.phase == Outbound::Phase::requested) return;
  // Still shown where it left until the new owner's own ghost of it has arrived (two ticks, as
  // before, was not enough: one lost ghost message from the new owner and viewers here saw the
  // player blink).
  depart(it->second.player, wire::EntityKind::player, it->second.commit.player.rec.pos);
  outbound_.erase(it);
}

void WorldNode::on_ho_nack(const cluster::HoReply& m) {
  auto it = outbound_.find(m.hid);
  if (it != outbound_.end() && it->second.phase == Outbound::Phase::committed) resolve_outbound(m.hid);
}

// The commit went unanswered (or was refused): ask the store who has the player. Taking it back is
// a cas from the gen we sent, so if the target installed it (gen moved on) we fail and let go, and
// if we win, the target's cas fails when its commit finally arrives.
void WorldNode::resolve_outbound(std::uint64_t hid) {
  Outbound& o = outbound_.at(hid);
  const cluster::PlayerTransfer& t = o.commit.player;
  if (config_.cluster.bug_unfenced_abort) {
    // The bug: take the player back on a timeout without fencing the target.
    if (cell_active(o.from_cell)) {
      install_player(o.from_cell, t, t.rec.gen, false);
      ++stats_.handovers_aborted;
      env_.tracer.record(TraceKind::handover_abort, hid, o.player, 4);
      if (cobs_ != nullptr) cobs_->on_handover_end(hid, o.player, false);
      outbound_.erase(hid);
    }
    return;
  }
  o.phase = Outbound::Phase::resolving;
  cluster::StoreCas cas;
  cas.req = ++next_req_;
  cluster::CasEntry entry{t.rec.gen, t.rec};
  entry.rec.owner = index();
  entry.rec.lease = lease_id_;
  entry.rec.cell = o.from_cell;
  cas.entries.push_back(entry);
  auth_.seal(Msg::store_cas, cas, env_.transport.self(), sealed_);
  o.resolve_req = store_request(StoreReq::Kind::resolve, hid, Msg::store_cas, sealed_);
}

// --- cross-node handover, target side ---

void WorldNode::on_ho_request(HostId from, const cluster::HoRequest& m) {
  cluster::HoReply reply{m.hid, m.player, 0};
  Msg type = Msg::ho_ready;
  if (installed_.count(m.hid) == 0) {
    if (m.to_cell >= cells_.size() || !cell_active(m.to_cell) || cell_state_[m.to_cell].epoch != m.to_epoch) {
      type = Msg::ho_reject, reply.reason = 1;
    } else if (!lease_valid()) {
      type = Msg::ho_reject, reply.reason = 2;
    } else if (draining_) {
      type = Msg::ho_reject, reply.reason = 3;
    }
  }
  send_cluster(from, type, reply);
}

void WorldNode::on_ho_commit(HostId from, cluster::HoCommit& m) {
  cluster::HoReply reply{m.hid, m.player.rec.player, 0};
  if (installed_.count(m.hid) != 0) return send_cluster(from, Msg::ho_ack, reply);  // a repeat
  if (installing_.count(m.hid) != 0) return;  // cas in flight
  const std::uint64_t p = m.player.rec.player;
  if (p == 0 || p > config_.max_players || m.to_cell >= cells_.size() || !cell_active(m.to_cell) ||
      cell_state_[m.to_cell].epoch != m.to_epoch || !lease_valid() || player_cell_[p - 1] >= 0) {
    return send_cluster(from, Msg::ho_nack, reply);
  }
  cluster::StoreCas cas;
  cas.req = ++next_req_;
  cluster::CasEntry entry{m.player.rec.gen, m.player.rec};
  entry.rec.owner = index();
  entry.rec.lease = lease_id_;
  entry.rec.cell = m.to_cell;
  cas.entries.push_back(entry);
  auth_.seal(Msg::store_cas, cas, env_.transport.self(), sealed_);
  store_request(StoreReq::Kind::install, m.hid, Msg::store_cas, sealed_);
  installing_.emplace(m.hid, Installing{std::move(m), from});
}

void WorldNode::on_cas_reply(cluster::StoreCasReply& m) {
  auto it = store_reqs_.find(m.req);
  if (it == store_reqs_.end()) return;  // a duplicate reply
  const StoreReq req = std::move(it->second);
  store_reqs_.erase(it);
  if (req.kind == StoreReq::Kind::join) {
    const std::uint64_t p = req.key;
    if (m.results.size() != 1 || !m.results[0].ok || player_cell_[p - 1] >= 0) {
      ++stats_.rejected_joins;
      return;
    }
    const std::int32_t s = session_of_player_[p - 1];
    if (s < 0) return;
    // The record as we proposed it: decode it back from the request.
    cluster::StoreCas sent;
    std::span<const std::uint8_t> body;
    Msg type{};
    if (auth_.open(req.bytes, env_.transport.self(), type, body) != cluster::Auth::Open::ok ||
        !cluster::decode_fields(body, sent) || sent.entries.size() != 1)
      return;
    const auto& rec = sent.entries[0].rec;
    // The store made us the owner: install even if the cell has just frozen for a migration
    // (its transfer waits for us). Only a cell we no longer own at all cannot take it.
    if (!cell_owned(rec.cell)) return;
    Entity e;
    e.id = EntityId{p};
    e.kind = wire::EntityKind::player;
    e.pos = rec.pos;
    e.target = rec.pos;
    e.gen = m.results[0].gen;
    e.session = static_cast<std::uint32_t>(s);
    sessions_[e.session].gen = e.gen;
    player_cell_[p - 1] = static_cast<std::int32_t>(rec.cell);
    ++players_spawned_;
    env_.tracer.record(TraceKind::entity_spawn, p, rec.cell, 0);
    cells_[rec.cell].reals.push_back(std::move(e));
    cluster::RouteUpdate ru{p, m.results[0].gen};
    send_cluster(sessions_[static_cast<std::size_t>(s)].client, Msg::route_update, ru);
    return;
  }
  if (req.kind == StoreReq::Kind::install) {
    auto inst = installing_.find(req.key);
    if (inst == installing_.end()) return;
    Installing in = std::move(inst->second);
    installing_.erase(inst);
    cluster::HoReply reply{req.key, in.commit.player.rec.player, 0};
    if (m.results.size() != 1 || !m.results[0].ok) {
      send_cluster(in.source, Msg::ho_nack, reply);
      return;
    }
    // The cas succeeded: the player is ours now, whatever happened to the cell meanwhile. A cell
    // frozen for migration waits for us (send_transfer); one we lost altogether (fenced) leaves
    // the player to the store, whose record names our dead lease, so a restore takes it.
    if (!cell_owned(in.commit.to_cell)) return;
    install_player(in.commit.to_cell, in.commit.player, m.results[0].gen, false);
    installed_.emplace(req.key, m.results[0].gen);
    installed_order_.push_back(req.key);
    if (installed_order_.size() > kInstalledKeep) {
      installed_.erase(installed_order_.front());
      installed_order_.pop_front();
    }
    ++stats_.handovers_installed;
    env_.tracer.record(TraceKind::handover_install, req.key, reply.player, m.results[0].gen);
    if (cobs_ != nullptr) cobs_->on_handover_end(req.key, reply.player, true);
    send_cluster(in.source, Msg::ho_ack, reply);
    return;
  }
  if (req.kind == StoreReq::Kind::resolve) {
    auto ob = outbound_.find(req.key);
    if (ob == outbound_.end()) return;
    Outbound o = std::move(ob->second);
    outbound_.erase(ob);
    if (m.results.size() == 1 && m.results[0].ok && cell_owned(o.from_cell)) {
      install_player(o.from_cell, o.commit.player, m.results[0].gen, false);
      ++stats_.handovers_aborted;
      env_.tracer.record(TraceKind::handover_abort, req.key, o.player, 5);
      if (cobs_ != nullptr) cobs_->on_handover_end(req.key, o.player, false);
      return;
    }
    // Otherwise the target (or a restorer) holds it, or nobody does (our cas won but the cell is no
    // longer ours: the orphan restore takes it): nothing left for us to do but show it where it
    // left for a while, as after an ack.
    depart(o.player, wire::EntityKind::player, o.commit.player.rec.pos);
    return;
  }
  if (req.kind == StoreReq::Kind::migrate) {
    auto mit = migrations_in_.find(static_cast<std::uint32_t>(req.key));
    if (mit == migrations_in_.end()) return;
    Migration& mg = mit->second;
    std::vector<cluster::PlayerTransfer> kept;
    for (std::size_t i = 0; i < mg.transfer.players.size() && i < m.results.size(); ++i) {
      if (!m.results[i].ok) continue;  // taken by someone else meanwhile: not ours to install
      mg.transfer.players[i].rec.gen = m.results[i].gen;
      kept.push_back(std::move(mg.transfer.players[i]));
    }
    mg.transfer.players = std::move(kept);
    mg.directory_done = true;
    mg.retry_at = env_.clock.now() + config_.cluster.store_timeout;
    cluster::MigrationDone done{mg.transfer.cell, mg.transfer.from, index(), mg.transfer.epoch, false};
    send_cluster(config_.cluster.directory, Msg::migration_done, done);
  }
}

// --- checkpoints and write-through ---

void WorldNode::send_checkpoints(bool only_actions) {
  if (!lease_valid()) return;
  const Time now = env_.clock.now();
  cluster::StoreWrite w;
  StoreReq req;
  req.kind = StoreReq::Kind::write;
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_active(ci)) continue;
    for (auto& e : cells_[ci].reals) {
      if (e.kind != wire::EntityKind::player) continue;
      const bool owes = e.ledger_seq > e.durable_seq && now >= e.write_due;
      if (only_actions && !owes) continue;
      w.records.push_back(record_of(e, static_cast<std::uint32_t>(ci)));
      req.writes.emplace_back(e.id.value(), e.ledger_seq);
      if (owes) e.write_due = now + config_.cluster.store_timeout;
    }
  }
  if (w.records.empty()) return;
  (only_actions ? stats_.write_throughs : stats_.checkpoints) += w.records.size();
  w.req = ++next_req_;
  req.retry_at = now + config_.cluster.store_timeout;
  send_cluster(config_.cluster.store, Msg::store_write, w);
  store_reqs_[w.req] = std::move(req);
}

void WorldNode::on_write_reply(const cluster::StoreWriteReply& m) {
  auto it = store_reqs_.find(m.req);
  if (it == store_reqs_.end() || it->second.kind != StoreReq::Kind::write) return;
  const StoreReq req = std::move(it->second);
  store_reqs_.erase(it);
  for (std::size_t i = 0; i < m.results.size() && i < req.writes.size(); ++i) {
    const auto& res = m.results[i];
    Entity* e = find_player(req.writes[i].first);
    if (e == nullptr || res.player != req.writes[i].first) continue;
    // A player frozen for a migration has left with its snapshot: touching it now (an ack to
    // its client) would fork its stream from the copy its new owner resumes. The new owner
    // writes its ledger again and acknowledges from there.
    if (cell_state_[static_cast<std::size_t>(player_cell_[res.player - 1])].frozen) continue;
    if (!res.ok) {
      if (res.gen > e->gen) {
        // Fenced: the store says someone else has this player now. Let go at once.
        const std::size_t ci = static_cast<std::size_t>(player_cell_[res.player - 1]);
        auto& reals = cells_[ci].reals;
        for (std::size_t k = 0; k < reals.size(); ++k) {
          if (reals[k].id.value() != res.player) continue;
          drop_player_session(reals[k]);
          reals.erase(reals.begin() + static_cast<std::ptrdiff_t>(k));
          break;
        }
        player_cell_[res.player - 1] = -1;
        ++stats_.players_dropped;
        env_.tracer.record(TraceKind::entity_despawn, res.player, ci, 3);
      }
      continue;
    }
    if (res.gen != e->gen) continue;
    e->durable_seq = std::max(e->durable_seq, req.writes[i].second);
    e->write_due = Time::zero();
    if (e->acked_seq < e->durable_seq) {
      e->acked_seq = e->durable_seq;
      bytes_.clear();
      wire::encode(wire::ActionAck{e->acked_seq}, bytes_);
      send_to_client(sessions_[e->session], bytes_);
      env_.tracer.record(TraceKind::action_ack, e->id.value(), e->acked_seq, 1);
    }
  }
}

void WorldNode::on_restore_reply(cluster::StoreRestoreReply& m) {
  auto it = store_reqs_.find(m.req);
  if (it == store_reqs_.end()) return;
  store_reqs_.erase(it);
  for (auto& cs : cell_state_) cs.restoring = false;
  for (const auto& rec : m.records) {
    if (rec.player == 0 || rec.player > config_.max_players) continue;
    if (Entity* here = find_player(rec.player); here != nullptr) {
      // We hold it already (a migration out of this cell was called off after its dead target
      // took the record): the store has just given it back to us under a new gen; adopt it.
      here->gen = rec.gen;
      sessions_[here->session].gen = rec.gen;
      continue;
    }
    if (player_cell_[rec.player - 1] >= 0) continue;
    if (rec.cell >= cells_.size() || !cell_owned(rec.cell)) {
      // The store gave it to us for a cell we have lost since (a fence): it stays in the store
      // under our lease, which is dead now too, for the next restore.
      ++stats_.players_dropped;
      continue;
    }
    cluster::PlayerTransfer t;
    t.rec = rec;
    install_player(rec.cell, t, rec.gen, true);
    ++stats_.players_restored;
    env_.tracer.record(TraceKind::player_restore, rec.player, rec.cell, rec.gen);
  }
}

// Gives players back to the store with no owner (cas from the gen we hold), so a restore takes them.
void WorldNode::orphan_players(const std::vector<cluster::PlayerTransfer>& players) {
  if (players.empty()) return;
  cluster::StoreCas cas;
  cas.req = ++next_req_;
  for (const auto& p : players) {
    cluster::CasEntry e{p.rec.gen, p.rec};
    e.rec.owner = 0;
    e.rec.lease = 0;
    cas.entries.push_back(e);
  }
  auth_.seal(Msg::store_cas, cas, env_.transport.self(), sealed_);
  store_request(StoreReq::Kind::orphan, 0, Msg::store_cas, sealed_);
}

// --- cell migration ---

void WorldNode::send_transfer(std::size_t ci) {
  for (const auto& [hid, in] : installing_)
    if (in.commit.to_cell == ci) return;  // let players already on their way in arrive first
  for (const auto& [hid, o] : outbound_)
    if (o.from_cell == ci && o.phase != Outbound::Phase::requested) return;  // and those leaving go
  for (const auto& [req, r] : store_reqs_)
    if (r.kind == StoreReq::Kind::restore) return;  // and those being restored into it
  CellState& cs = cell_state_[ci];
  cluster::CellTransfer m;
  m.cell = static_cast<std::uint32_t>(ci);
  m.epoch = cs.epoch;
  m.from = index();
  m.next_npc = next_bot_id_;
  for (auto& e : cells_[ci].reals) {
    if (e.kind == wire::EntityKind::player) {
      m.players.push_back(save_player(e));
    } else {
      m.npcs.push_back({e.id.value(), e.pos, e.target, e.speed_mm_s});
    }
  }
  if (!cs.transfer_sent) {
    for (auto& p : m.players) {
      cluster::RouteUpdate hold{p.rec.player, p.rec.gen};
      send_cluster(HostId{p.rec.gateway}, Msg::hold, hold);
    }
    if (cobs_ != nullptr) cobs_->on_migration_out(index(), cs.migrate_to, m.cell, m.players);
  }
  send_cluster(config_.cluster.nodes[cs.migrate_to - 1], Msg::cell_transfer, m);
  cs.transfer_sent = true;
  cs.retry_at = env_.clock.now() + config_.cluster.store_timeout * 2;
}

void WorldNode::on_cell_transfer(HostId from, cluster::CellTransfer& m) {
  if (m.cell >= cells_.size()) return;
  CellState& cs = cell_state_[m.cell];
  if (cs.owned && cs.epoch == m.epoch + 1) {
    cluster::CellTransferAck ack{m.cell, m.epoch, true};
    return send_cluster(from, Msg::cell_transfer_ack, ack);  // done already: a repeat
  }
  if (migrations_in_.count(m.cell) != 0 || cs.owned || !lease_valid() || m.cell >= table_.size())
    return;
  const auto& entry = table_[m.cell];
  if (entry.owner != m.from || entry.migrate_to != index() || entry.epoch != m.epoch) return;
  cluster::StoreCas cas;
  cas.req = ++next_req_;
  for (const auto& p : m.players) {
    cluster::CasEntry e{p.rec.gen, p.rec};
    e.rec.owner = index();
    e.rec.lease = lease_id_;
    e.rec.cell = m.cell;
    cas.entries.push_back(e);
  }
  auth_.seal(Msg::store_cas, cas, env_.transport.self(), sealed_);
  const std::uint32_t cell = m.cell;
  Migration mg;
  mg.transfer = std::move(m);
  mg.source = from;
  mg.req = store_request(StoreReq::Kind::migrate, cell, Msg::store_cas, sealed_);
  mg.arrived = env_.clock.now();
  migrations_in_.emplace(cell, std::move(mg));
}

void WorldNode::on_migration_done_ack(const cluster::MigrationDone& m) {
  auto it = migrations_in_.find(m.cell);
  if (it == migrations_in_.end() || !it->second.directory_done) return;
  Migration mg = std::move(it->second);
  migrations_in_.erase(it);
  if (!m.ok) {
    // The directory moved on (the source's lease lapsed mid-migration) and a failover owns the
    // cell now. Our store cas already made us the players' owner; give them back as orphans
    // (owner 0) so the failover's restore — or the next orphan sweep — takes them.
    orphan_players(mg.transfer.players);
    return;
  }
  const std::size_t ci = m.cell;
  acquire_cell(ci, m.epoch, 2);
  for (const auto& n : mg.transfer.npcs) {
    Entity e;
    e.id = EntityId{n.id};
    e.kind = wire::EntityKind::npc;
    e.pos = n.pos;
    e.target = n.target;
    e.speed_mm_s = n.speed;
    cells_[ci].reals.push_back(std::move(e));
  }
  for (const auto& p : mg.transfer.players) install_player(ci, p, p.rec.gen, false);
  ++stats_.migrations_in;
  if (cobs_ != nullptr) cobs_->on_migration_in(m.cell, mg.transfer.players);
  cluster::CellTransferAck ack{m.cell, mg.transfer.epoch, true};
  send_cluster(mg.source, Msg::cell_transfer_ack, ack);
}

void WorldNode::on_cell_transfer_ack(const cluster::CellTransferAck& m) {
  if (m.cell >= cells_.size()) return;
  CellState& cs = cell_state_[m.cell];
  if (!cs.owned || !cs.frozen || cs.epoch != m.epoch || !m.ok) return;
  release_cell(m.cell, 1);
  ++stats_.migrations_out;
}

// --- ghosts ---

// Sends what exchange_ghosts() collected this tick: one Ghosts message per node that owns a cell
// near our entities, and one empty message to a node that had some last tick and has none now.
void WorldNode::send_ghosts() {
  if (!lease_valid()) return;
  ghost_sent_last_.resize(ghost_out_.size(), 0);
  for (std::size_t n = 0; n < ghost_out_.size(); ++n) {
    if (ghost_out_[n].empty() && ghost_sent_last_[n] == 0) continue;
    ghost_sent_last_[n] = ghost_out_[n].empty() ? 0 : 1;
    cluster::Ghosts m;
    m.tick = tick_;
    m.entries.swap(ghost_out_[n]);
    send_cluster(config_.cluster.nodes[n], Msg::ghosts, m);
    m.entries.swap(ghost_out_[n]);
  }
}

// --- message dispatch ---

void WorldNode::on_tunnel(HostId gateway, const cluster::TunnelView& t) {
  if (t.player == 0 || t.player > config_.max_players) {
    ++stats_.decode_errors;
    return;
  }
  std::int32_t s = session_of_player_[t.player - 1];
  if (s < 0) {
    // A first frame from a new client (epoch 0) opens a session for its join; anything else is for
    // a player we do not hold (in flight, or routed here by a stale table): drop it, the client's
    // retransmission will find the owner.
    if (t.chan_epoch != 0 || !lease_valid()) {
      ++stats_.stray_frames;
      return;
    }
    s = static_cast<std::int32_t>(new_session(gateway, t.player, 1));
  }
  Session& ss = sessions_[static_cast<std::size_t>(s)];
  const bool epoch_ok = t.chan_epoch == ss.chan_epoch || (t.chan_epoch == 0 && ss.chan_epoch == 1);
  if (ss.frozen || !epoch_ok) {
    ++stats_.stray_frames;
    return;
  }
  const std::uint32_t idx = static_cast<std::uint32_t>(s);
  const auto result = ss.channel.on_frame(
      t.frame, channel_transport(ss), ss.client,
      [&](std::span<const std::uint8_t> payload) { handle_payload(sessions_[idx], payload); });
  if (result == ReliableChannel::FrameResult::malformed) {
    ++stats_.decode_errors;
    env_.tracer.record(TraceKind::decode_error, gateway.value(), t.frame.size(), 0);
  }
}

Duration WorldNode::oldest_handover_age() const {
  Duration age = Duration::zero();
  for (const auto& [hid, o] : outbound_) age = std::max(age, env_.clock.now() - o.started);
  return age;
}

void WorldNode::in_transit_ghosts(std::vector<cluster::GhostEntry>& out) {
  const auto player = static_cast<std::uint8_t>(wire::EntityKind::player);
  for (const auto& [hid, o] : outbound_)
    if (o.phase != Outbound::Phase::requested) out.push_back({o.player, player, o.commit.player.rec.pos});
  const Time now = env_.clock.now();
  // Not dropped when the new owner's ghost of it first reaches us (it ranks above a departed copy
  // anyway): the nodes we ghost it to may not get the new owner's yet, if its table does not show
  // them owning the cells around it (a drain moves many cells at once).
  std::erase_if(departed_, [&](Departed& d) {
    d.until = std::min(d.until, now + departed_for());  // a clock jumped back must not stretch it
    return d.until <= now;
  });
  for (const auto& d : departed_) out.push_back({d.id, static_cast<std::uint8_t>(d.kind), d.pos});
  // A migrated cell's entities between the transfer reaching us and the directory's ack making the
  // cell ours: real nowhere, and their source may have let go of them (a drain that finished), so
  // we show them, where they stopped, until we install them.
  // Not for longer than a departed copy: a migration the directory called off (its source's lease
  // lapsed) can leave its entry here long after its entities were restored elsewhere or lost.
  if (config_.cluster.bug_ghost_gap) return;
  for (const auto& [cell, mg] : migrations_in_) {
    if (now - mg.arrived > departed_for()) continue;
    for (const auto& p : mg.transfer.players) out.push_back({p.rec.player, player, p.rec.pos});
    for (const auto& n : mg.transfer.npcs)
      out.push_back({n.id, static_cast<std::uint8_t>(wire::EntityKind::npc), n.pos});
  }
}

void WorldNode::migrating_in(std::vector<std::uint64_t>& out) const {
  for (const auto& [cell, mg] : migrations_in_) {
    for (const auto& p : mg.transfer.players) out.push_back(p.rec.player);
    for (const auto& n : mg.transfer.npcs) out.push_back(n.id);
  }
}

void WorldNode::in_transit(std::vector<std::uint64_t>& out) const {
  for (const auto& [hid, o] : outbound_)
    if (o.phase != Outbound::Phase::requested) out.push_back(o.player);
  for (std::size_t ci = 0; ci < cells_.size(); ++ci) {
    if (!cell_state_[ci].frozen) continue;
    for (const auto& e : cells_[ci].reals)
      if (e.kind == wire::EntityKind::player) out.push_back(e.id.value());
  }
}

void WorldNode::on_cluster_message(HostId from, std::span<const std::uint8_t> bytes) {
  const auto& cc = config_.cluster;
  std::uint32_t node = 0;
  for (std::uint32_t i = 0; i < cc.nodes.size(); ++i)
    if (cc.nodes[i] == from) node = i + 1;
  bool gateway = false;
  for (const auto g : cc.gateways) gateway = gateway || g == from;
  const bool store = from == cc.store;
  const bool directory = from == cc.directory;
  Msg type{};
  std::span<const std::uint8_t> body;
  if ((node == 0 && !gateway && !store && !directory) ||
      auth_.open(bytes, from, type, body) != cluster::Auth::Open::ok) {
    ++stats_.auth_rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), bytes.size(), 4);
    return;
  }
  bool ok = false;
  switch (type) {
    case Msg::heartbeat_ack:
      if (directory) {
        cluster::Table t;
        if ((ok = cluster::decode_fields(body, t))) on_table(t);
      }
      break;
    case Msg::migration_done_ack:
      if (directory) {
        cluster::MigrationDone m;
        if ((ok = cluster::decode_fields(body, m))) on_migration_done_ack(m);
      }
      break;
    case Msg::store_cas_reply:
      if (store) {
        cluster::StoreCasReply m;
        if ((ok = cluster::decode_fields(body, m))) on_cas_reply(m);
      }
      break;
    case Msg::store_write_reply:
      if (store) {
        cluster::StoreWriteReply m;
        if ((ok = cluster::decode_fields(body, m))) on_write_reply(m);
      }
      break;
    case Msg::store_restore_reply:
      if (store) {
        cluster::StoreRestoreReply m;
        if ((ok = cluster::decode_fields(body, m))) on_restore_reply(m);
      }
      break;
    case Msg::ho_request:
      if (node != 0) {
        cluster::HoRequest m;
        if ((ok = cluster::decode_fields(body, m))) on_ho_request(from, m);
      }
      break;
    case Msg::ho_ready:
    case Msg::ho_reject:
    case Msg::ho_ack:
    case Msg::ho_nack:
      if (node != 0) {
        cluster::HoReply m;
        if ((ok = cluster::decode_fields(body, m))) {
          if (type == Msg::ho_ready) on_ho_ready(m);
          if (type == Msg::ho_reject) on_ho_reject(m);
          if (type == Msg::ho_ack) on_ho_ack(m);
          if (type == Msg::ho_nack) on_ho_nack(m);
        }
      }
      break;
    case Msg::ho_commit:
      if (node != 0) {
        cluster::HoCommit m;
        if ((ok = cluster::decode_fields(body, m))) on_ho_commit(from, m);
      }
      break;
    case Msg::ghosts:
      if (node != 0) {
        // Decoded into a reused message; swapping keeps both buffers' capacity (no allocation).
        if ((ok = cluster::decode_fields(body, ghosts_in_))) {
          remote_ghosts_[node - 1].entries.swap(ghosts_in_.entries);
          remote_ghosts_[node - 1].received = env_.clock.now();
        }
      }
      break;
    case Msg::cell_transfer:
      if (node != 0) {
        cluster::CellTransfer m;
        if ((ok = cluster::decode_fields(body, m))) on_cell_transfer(from, m);
      }
      break;
    case Msg::cell_transfer_ack:
      if (node != 0) {
        cluster::CellTransferAck m;
        if ((ok = cluster::decode_fields(body, m))) on_cell_transfer_ack(m);
      }
      break;
    case Msg::tunnel:
      if (gateway) {
        cluster::TunnelView t;
        if ((ok = cluster::decode_fields(body, t))) on_tunnel(from, t);
      }
      break;
    case Msg::tunnel_batch:  // a gateway's coalesced uplink: checked whole before any item is used
      if (gateway) {
        // The items are views into `body`, which outlives their use.
        ok = cluster::decode_tunnel_batch(body, tunnel_in_);
        if (ok)
          for (const auto& t : tunnel_in_) on_tunnel(from, t);
      }
      break;
    case Msg::ping:
      if (gateway) {
        cluster::Ping m;
        if ((ok = cluster::decode_fields(body, m))) send_cluster(from, Msg::pong, m);
      }
      break;
    default:
      break;
  }
  if (!ok) {
    ++stats_.decode_errors;
    env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 7);
  }
}

}  // namespace shardsim
