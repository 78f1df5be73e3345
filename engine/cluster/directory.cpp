#include "engine/cluster/directory.h"

#include <xxhash.h>

#include "engine/core/assert.h"

namespace shardsim::cluster {
namespace {
constexpr std::uint64_t kTickTimer = 1;
constexpr std::uint32_t kRendezvousMovesMax = 4;  // cells migrating home at once
}

std::uint32_t pick_owner(Policy policy, std::uint32_t cell, const std::vector<std::uint8_t>& eligible,
                         const std::vector<std::uint32_t>& cells_owned,
                         const std::vector<std::uint64_t>& load) {
  std::uint32_t best = 0;
  std::uint64_t best_weight = 0;
  for (std::uint32_t i = 0; i < eligible.size(); ++i) {
    if (eligible[i] == 0) continue;
    if (policy == Policy::rendezvous) {
      const std::uint64_t key[2] = {cell, i + 1ULL};
      const std::uint64_t w = XXH3_64bits(key, sizeof key);
      if (best == 0 || w > best_weight) best = i + 1, best_weight = w;
    } else if (best == 0 || cells_owned[i] < cells_owned[best - 1] ||
               (cells_owned[i] == cells_owned[best - 1] && load[i] < load[best - 1])) {
      best = i + 1;
    }
  }
  return best;
}

Directory::Directory(Env env, DirectoryConfig config, DirectoryState& state)
    : env_{env}, config_{std::move(config)}, state_{state}, auth_{config_.auth_key} {
  if (state_.cells.empty()) state_.cells.resize(config_.cells);
  if (state_.leases.empty()) state_.leases.resize(config_.nodes.size());
}

void Directory::on_start() {
  started_ = env_.clock.now();
  env_.timers.set_timer(started_ + config_.tick, kTickTimer);
}

void Directory::on_timer(std::uint64_t) {
  expire_and_assign();
  env_.timers.set_timer(env_.clock.now() + config_.tick, kTickTimer);
}

std::uint32_t Directory::node_index(HostId h) const {
  for (std::uint32_t i = 0; i < config_.nodes.size(); ++i)
    if (config_.nodes[i] == h) return i + 1;
  return 0;
}

bool Directory::is_gateway(HostId h) const {
  for (const auto g : config_.gateways)
    if (g == h) return true;
  return false;
}

template <class M>
void Directory::send(HostId to, Msg type, M& m) {
  auth_.seal(type, m, env_.transport.self(), out_);
  env_.transport.send(to, out_);
}

void Directory::on_message(HostId from, std::span<const std::uint8_t> bytes) {
  const std::uint32_t node = node_index(from);
  Msg type{};
  std::span<const std::uint8_t> body;
  if ((node == 0 && !is_gateway(from)) || auth_.open(bytes, from, type, body) != Auth::Open::ok) {
    ++state_.rejected;
    env_.tracer.record(TraceKind::auth_reject, from.value(), bytes.size(), 0);
    return;
  }
  if (type == Msg::heartbeat && node != 0) {
    Heartbeat hb;
    if (decode_fields(body, hb) && hb.node == node) return on_heartbeat(from, node, hb);
  } else if (type == Msg::table_request) {
    Ping p;
    if (decode_fields(body, p)) {
      Table t;
      t.seq = p.seq;
      fill_table(t);
      return send(from, Msg::table, t);
    }
  } else if (type == Msg::migration_done && node != 0) {
    MigrationDone m;
    if (decode_fields(body, m) && m.to == node) return on_migration_done(from, node, m);
  } else if (type == Msg::leave && node != 0) {
    Leave l;
    if (decode_fields(body, l) && l.node == node) {
      auto& lease = state_.leases[node - 1];
      // Only a drained node leaves; it owns nothing by now, so nothing needs reassigning.
      if (lease.id == l.lease) {
        bool owns = false;
        for (const auto& c : state_.cells) owns = owns || c.owner == node;
        if (!owns) {
          lease = {};
          ++state_.version;
          env_.tracer.record(TraceKind::lease_change, node, 0, 2);
        }
      }
      return;
    }
  }
  ++state_.rejected;
  env_.tracer.record(TraceKind::decode_error, from.value(), bytes.size(), 3);
}

void Directory::on_heartbeat(HostId from, std::uint32_t node, const Heartbeat& hb) {
  auto& lease = state_.leases[node - 1];
  const Time now = env_.clock.now();
  Table ack;
  ack.seq = hb.seq;
  ack.nonce = hb.nonce;
  if (hb.lease == 0 && lease.id != 0 && lease.nonce == hb.nonce) {
    // A repeat of the request that created the current lease (its ack was lost): same lease.
  } else if (hb.lease == 0) {
    // A new lease. A node that still holds one (it restarted or fenced itself) gets a fresh id; its
    // old cells stay assigned to it only if the old lease is still live — otherwise they were or will
    // be reassigned by expiry. Either way the old id stops renewing.
    if (lease.id != 0) {
      // Still live: the node lost its memory (restart) while owning cells. Treat as an expiry now.
      for (auto& c : state_.cells)
        if (c.owner == node) c = CellEntry{0, c.epoch, 0, node};
      for (auto& c : state_.cells)
        if (c.migrate_to == node) c.migrate_to = 0;
    }
    lease.id = state_.next_lease++;
    lease.nonce = hb.nonce;
    lease.draining = false;
    env_.tracer.record(TraceKind::lease_change, node, lease.id, 1);
    ++state_.version;
  } else if (hb.lease != lease.id) {
    send(from, Msg::heartbeat_ack, ack);  // lease 0: yours is gone
    return;
  }
  lease.expires = now + config_.ttl;
  lease.load = hb.load;
  lease.cell_loads = hb.cell_loads;
  if (hb.draining && !lease.draining) {
    lease.draining = true;
    ++state_.version;
  }
  expire_and_assign();
  ack.lease = lease.id;
  fill_table(ack);
  send(from, Msg::heartbeat_ack, ack);
}

void Directory::on_migration_done(HostId from, std::uint32_t node, MigrationDone& m) {
  bool ok = false;
  if (m.cell < state_.cells.size()) {
    auto& c = state_.cells[m.cell];
    if (c.owner == m.from && c.epoch == m.epoch && c.migrate_to == node &&
        state_.leases[node - 1].id != 0) {
      c = CellEntry{node, c.epoch + 1, 0, 0};
      ++state_.version;
      ++state_.migrations;
      env_.tracer.record(TraceKind::cell_assign, m.cell, node, c.epoch);
      ok = true;
    } else if (c.owner == node && c.epoch == m.epoch + 1) {
      ok = true;  // a retry of a migration already done: idempotent
    }
  }
  m.ok = ok;
  m.epoch = ok ? m.epoch + 1 : m.epoch;
  send(from, Msg::migration_done_ack, m);
}

void Directory::expire_and_assign() {
  const Time now = env_.clock.now();
  const auto n = static_cast<std::uint32_t>(config_.nodes.size());
  // Expire: reassign a lapsed node's cells only `margin` after its lease expired.
  for (std::uint32_t i = 0; i < n; ++i) {
    auto& lease = state_.leases[i];
    if (lease.id == 0 || now < lease.expires + config_.margin) continue;
    env_.tracer.record(TraceKind::lease_change, i + 1, lease.id, 0);
    lease = {};
    ++state_.version;
    for (auto& c : state_.cells) {
      if (c.owner == i + 1) {
        c = CellEntry{0, c.epoch, 0, i + 1};
        ++state_.reassignments;
      }
      if (c.migrate_to == i + 1) c.migrate_to = 0;
    }
  }
  // Every lease gone (the directory was cut off from all nodes, or all crashed): assign afresh
  // only after a settle period, as at start, so the first node back does not take every cell.
  bool any_lease = false;
  for (const auto& l : state_.leases) any_lease = any_lease || l.id != 0;
  if (!any_lease && state_.assigned_once) {
    state_.assigned_once = false;
    started_ = now;
  }
  if (!state_.assigned_once) {
    bool all = true;
    for (const auto& l : state_.leases) all = all && l.id != 0;
    if (!all && now < started_ + config_.settle) return;
    state_.assigned_once = true;
  }
  std::vector<std::uint8_t> eligible(n, 0);
  std::vector<std::uint32_t> owned(n, 0);
  std::vector<std::uint64_t> load(n, 0);
  bool any = false;
  for (std::uint32_t i = 0; i < n; ++i) {
    eligible[i] = state_.leases[i].id != 0 && !state_.leases[i].draining;
    load[i] = state_.leases[i].load;
    any = any || eligible[i];
  }
  if (!any) return;
  for (const auto& c : state_.cells)
    if (c.owner != 0) ++owned[c.owner - 1];
  for (std::uint32_t ci = 0; ci < state_.cells.size(); ++ci) {
    auto& c = state_.cells[ci];
    if (c.owner == 0) {
      const std::uint32_t to = pick_owner(config_.policy, ci, eligible, owned, load);
      c.owner = to;
      ++c.epoch;
      ++owned[to - 1];
      ++state_.version;
      env_.tracer.record(TraceKind::cell_assign, ci, to, c.epoch);
    } else if (state_.leases[c.owner - 1].draining && c.migrate_to == 0) {
      c.migrate_to = pick_owner(config_.policy, ci, eligible, owned, load);
      ++owned[c.migrate_to - 1];
      ++state_.version;
      env_.tracer.record(TraceKind::cell_migrate, ci, c.owner, c.migrate_to);
    }
  }
  rebalance();
}

void Directory::rebalance() {
  const Time now = env_.clock.now();
  if (config_.policy == Policy::rendezvous) {
    // Rendezvous: a cell belongs with its highest-weight live node. After a failover or a cluster
    // restart cells sit elsewhere; move them home, a few at a time, as their nodes come back.
    if (now - state_.last_rebalance < config_.rebalance_interval / 5) return;
    const auto n = static_cast<std::uint32_t>(state_.leases.size());
    std::vector<std::uint8_t> eligible(n, 0);
    for (std::uint32_t i = 0; i < n; ++i)
      eligible[i] = state_.leases[i].id != 0 && !state_.leases[i].draining;
    std::uint32_t moving = 0;
    for (const auto& c : state_.cells) moving += c.migrate_to != 0;
    const std::vector<std::uint32_t> none(n, 0);
    const std::vector<std::uint64_t> no_load(n, 0);
    for (std::uint32_t ci = 0; ci < state_.cells.size() && moving < kRendezvousMovesMax; ++ci) {
      auto& c = state_.cells[ci];
      if (c.owner == 0 || c.migrate_to != 0 || state_.leases[c.owner - 1].draining) continue;
      const std::uint32_t home = pick_owner(Policy::rendezvous, ci, eligible, none, no_load);
      if (home == 0 || home == c.owner) continue;
      c.migrate_to = home;
      ++moving;
      ++state_.version;
      state_.last_rebalance = now;
      env_.tracer.record(TraceKind::cell_migrate, ci, c.owner, home);
    }
    return;
  }
  if (now - state_.last_rebalance < config_.rebalance_interval) return;
  for (const auto& c : state_.cells)
    if (c.migrate_to != 0 || c.owner == 0) return;  // one move at a time, and only when settled
  std::uint32_t hi = 0;
  std::uint32_t lo = 0;
  std::uint64_t total = 0;
  std::uint32_t live = 0;
  for (std::uint32_t i = 0; i < state_.leases.size(); ++i) {
    const auto& l = state_.leases[i];
    if (l.id == 0 || l.draining) continue;
    ++live;
    total += l.load;
    if (hi == 0 || l.load > state_.leases[hi - 1].load) hi = i + 1;
    if (lo == 0 || l.load < state_.leases[lo - 1].load) lo = i + 1;
  }
  if (live < 2 || hi == lo) return;
  const std::uint64_t max = state_.leases[hi - 1].load;
  const std::uint64_t min = state_.leases[lo - 1].load;
  if (max * 100 * live <= total * config_.rebalance_ratio_pct) return;
  // The busiest cell whose move still lowers the maximum: load < max - min.
  std::uint32_t best_cell = UINT32_MAX;
  std::uint64_t best_load = 0;
  const auto& loads = state_.leases[hi - 1].cell_loads;
  for (std::size_t k = 0; k + 1 < loads.size(); k += 2) {
    const auto cell = static_cast<std::uint32_t>(loads[k]);
    const std::uint64_t load = loads[k + 1];
    if (cell >= state_.cells.size() || state_.cells[cell].owner != hi) continue;
    if (load == 0 || load >= max - min) continue;
    if (best_cell == UINT32_MAX || load > best_load) best_cell = cell, best_load = load;
  }
  if (best_cell == UINT32_MAX) return;
  state_.last_rebalance = now;
  state_.cells[best_cell].migrate_to = lo;
  ++state_.version;
  env_.tracer.record(TraceKind::cell_migrate, best_cell, hi, lo);
}

void Directory::fill_table(Table& t) const {
  t.version = state_.version;
  t.cells = state_.cells;
  t.leases.resize(state_.leases.size());
  for (std::size_t i = 0; i < state_.leases.size(); ++i) t.leases[i] = state_.leases[i].id;
}

}  // namespace shardsim::cluster
