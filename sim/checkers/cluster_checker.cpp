#include "sim/checkers/cluster_checker.h"

#include <algorithm>

#include <fmt/format.h>

namespace shardsim::sim {

ClusterChecker::ClusterChecker(ViolationLog& log, const Time& now, Config config)
    : log_{log},
      now_{now},
      config_{config},
      last_ticker_(config.cells, 0),
      last_tick_at_(config.cells, Time::max()),
      claim_(config.cells, std::vector<std::uint8_t>(config.nodes + 1, 0)),
      flagged_cell_(config.cells, 0),
      max_epoch_(config.cells, 0),
      count_(config.players + 1, 0),
      ledger_(config.players + 1, 0),
      transit_(config.players + 1, 0),
      joined_(config.players + 1, 0),
      dup_flag_(config.players + 1, 0),
      acked_(config.players + 1, 0),
      acked_flag_(config.players + 1, 0),
      corrupt_flag_(config.players + 1, 0),
      missing_since_(config.players + 1, Time::max()),
      lost_clock_(config.players + 1, Time::max()),
      lost_flag_(config.players + 1, 0) {}

void ClusterChecker::on_cell_tick(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) {
  const std::uint32_t last = last_ticker_[cell];
  // Two at once: we ticked it, then `last` did, and now we do again, neither having let go; or
  // `last`, still holding it, ticked it at this very instant (a one-tick overlap, after which
  // `last` may let go before ticking again).
  const bool other = last != 0 && last != node && claim_[cell][last] != 0;
  if (other && (claim_[cell][node] != 0 || last_tick_at_[cell] == now_) && flagged_cell_[cell] == 0) {
    ++split_brain_;
    flagged_cell_[cell] = 1;
    log_.add("split_brain.violations", now_, cell,
             fmt::format("cell {} simulated by node-{} (epoch {}) and node-{} at once", cell, node,
                         epoch, last));
  }
  claim_[cell][node] = 1;
  last_ticker_[cell] = node;
  last_tick_at_[cell] = now_;
}

void ClusterChecker::on_cell_release(std::uint32_t node, std::uint32_t cell) {
  claim_[cell][node] = 0;
  if (last_ticker_[cell] == node) last_ticker_[cell] = 0;
  flagged_cell_[cell] = 0;
}

void ClusterChecker::on_cell_acquire(std::uint32_t node, std::uint32_t cell, std::uint64_t epoch) {
  if (epoch <= max_epoch_[cell]) {
    ++epoch_violations_;
    log_.add("epoch.violations", now_, cell,
             fmt::format("node-{} took cell {} at epoch {}, not above {}", node, cell, epoch,
                         max_epoch_[cell]));
  }
  max_epoch_[cell] = std::max(max_epoch_[cell], epoch);
}

void ClusterChecker::on_node_down(std::uint32_t node) {
  for (std::uint32_t c = 0; c < config_.cells; ++c) on_cell_release(node, c);
  crashes_.push_back(now_);
}

void ClusterChecker::on_handover_start(std::uint64_t hid, std::uint64_t player, std::uint32_t,
                                       std::uint32_t to) {
  open_[hid] = Open{player, to, now_, false};
}

void ClusterChecker::on_handover_commit(std::uint64_t, std::uint64_t) {}

void ClusterChecker::on_handover_end(std::uint64_t hid, std::uint64_t player, bool ok) {
  auto it = open_.find(hid);
  if (it == open_.end()) return;
  if (!ok) {
    ++handovers_.failed;
    if (open_of_player_.count(player) != 0 && open_of_player_[player] == hid)
      open_of_player_.erase(player);
    open_.erase(it);
    return;
  }
  it->second.installed = true;
  open_of_player_[player] = hid;
}

void ClusterChecker::on_route(std::uint64_t player, std::uint32_t node, std::uint64_t) {
  auto p = open_of_player_.find(player);
  if (p == open_of_player_.end()) return;
  auto it = open_.find(p->second);
  if (it == open_.end() || it->second.to != node) return;
  ++handovers_.ok;
  handovers_.latencies.push_back(now_ - it->second.started);
  open_.erase(it);
  open_of_player_.erase(p);
}

namespace {
bool same_state(const cluster::PlayerTransfer& a, const cluster::PlayerTransfer& b) {
  return a.rec.pos == b.rec.pos && a.rec.target == b.rec.target && a.rec.speed == b.rec.speed &&
         a.rec.ledger_seq == b.rec.ledger_seq && a.rec.ledger_value == b.rec.ledger_value &&
         a.rec.chan_epoch == b.rec.chan_epoch && a.rec.gateway == b.rec.gateway &&
         a.view == b.view && a.channel == b.channel && a.acked_seq == b.acked_seq &&
         a.durable_seq == b.durable_seq;
}
}  // namespace

void ClusterChecker::on_migration_out(std::uint32_t, std::uint32_t, std::uint32_t cell,
                                      std::span<const cluster::PlayerTransfer> players) {
  migrating_[cell].assign(players.begin(), players.end());
}

void ClusterChecker::on_migration_in(std::uint32_t cell,
                                     std::span<const cluster::PlayerTransfer> players) {
  auto it = migrating_.find(cell);
  if (it == migrating_.end()) return;
  for (const auto& out : it->second) {
    const auto in = std::find_if(players.begin(), players.end(),
                                 [&](const auto& p) { return p.rec.player == out.rec.player; });
    if (in == players.end() || !same_state(out, *in)) {
      ++migration_lost_;
      log_.add("migration.lost", now_, out.rec.player,
               fmt::format("player {} {} in the migration of cell {}", out.rec.player,
                           in == players.end() ? "missing" : "changed", cell));
    }
  }
  migrating_.erase(it);
}

void ClusterChecker::sweep(std::span<WorldNode* const> nodes, bool faults_active) {
  std::fill(count_.begin(), count_.end(), 0);
  std::fill(transit_.begin(), transit_.end(), 0);
  std::vector<std::uint8_t> served(config_.cells, 0);
  for (WorldNode* n : nodes) {
    if (n == nullptr) continue;
    scratch_.clear();
    n->in_transit(scratch_);
    for (auto p : scratch_)
      if (p <= config_.players) transit_[p] = 1;
    for (std::size_t ci = 0; ci < n->cells().size(); ++ci) {
      if (!n->cell_active(ci)) continue;
      served[ci] = 1;
      for (const auto& e : n->cells()[ci].reals) {
        if (e.kind != wire::EntityKind::player) continue;
        const std::uint64_t p = e.id.value();
        ++count_[p];
        ledger_[p] = e.ledger_seq;
        // Every action adds 1: a ledger whose value is not its action count applied one twice
        // (or skipped one).
        if (e.ledger_value != static_cast<std::int64_t>(e.ledger_seq) && corrupt_flag_[p] == 0) {
          corrupt_flag_[p] = 1;
          ++ledger_corrupt_;
          log_.add("ledger.corrupt", now_, p,
                   fmt::format("player {}: ledger value {} after {} actions", p, e.ledger_value,
                               e.ledger_seq));
        }
      }
    }
  }
  if (!crashes_.empty() && std::all_of(served.begin(), served.end(), [](auto s) { return s != 0; })) {
    for (Time t : crashes_) recovery_max_ = std::max(recovery_max_, now_ - t);
    crashes_.clear();
  }
  for (std::uint32_t p = 1; p <= config_.players; ++p) {
    const std::uint32_t c = count_[p];
    if (c >= 1) joined_[p] = 1;
    if (c >= 2 && dup_flag_[p] == 0) {
      ++duplicated_;
      dup_flag_[p] = 1;
      log_.add("players.duplicated", now_, p, fmt::format("player {} real on {} nodes", p, c));
    } else if (c < 2) {
      dup_flag_[p] = 0;
    }
    if (c == 1 && ledger_[p] < acked_[p] && acked_flag_[p] == 0) {
      ++acked_lost_;
      acked_flag_[p] = 1;
      log_.add("ledger.acked_lost", now_, p,
               fmt::format("player {}: ledger at action {}, client was acknowledged {}", p,
                           ledger_[p], acked_[p]));
    }
    if (c == 0 && joined_[p] != 0 && transit_[p] == 0) {
      if (missing_since_[p] == Time::max()) missing_since_[p] = now_;
      unavailable_max_ = std::max(unavailable_max_, now_ - missing_since_[p]);
      // The bound runs from when the player went missing or the last fault ended, whichever is
      // later: a fault may legitimately keep it from every node (a cluster cut off from its
      // directory stops serving), but once faults end it must be back within the bound.
      if (faults_active) lost_clock_[p] = now_;
      if (lost_clock_[p] == Time::max()) lost_clock_[p] = missing_since_[p];
      const Duration gone = now_ - lost_clock_[p];
      if (gone > config_.transit_bound && lost_flag_[p] == 0) {
        ++lost_;
        lost_flag_[p] = 1;
        log_.add("players.lost", now_, p,
                 fmt::format("player {} held by no node for {} ms after the last fault", p,
                             gone.us() / 1000));
      }
    } else {
      missing_since_[p] = Time::max();
      lost_clock_[p] = Time::max();
      lost_flag_[p] = 0;
    }
  }
}

void ClusterChecker::check_liveness(std::span<WorldNode* const> nodes,
                                    std::span<cluster::Gateway* const> gateways,
                                    const std::vector<std::uint32_t>& gateway_of_player, bool confirm) {
  enum What : std::uint64_t {
    stuck_handover = 1,
    unserved_cell = 2,
    unheld_player = 3,
    misrouted = 4,
    never_joined = 5
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> found;
  std::vector<std::string> details;
  auto suspect = [&](What w, std::uint64_t subject, std::string detail) {
    found.emplace_back(w, subject);
    details.push_back(std::move(detail));
  };
  std::vector<std::uint32_t> holder(config_.players + 1, 0);
  std::vector<std::uint8_t> served(config_.cells, 0);
  std::vector<std::uint8_t> transit(config_.players + 1, 0);
  for (std::uint32_t i = 0; i < nodes.size(); ++i) {
    WorldNode* n = nodes[i];
    if (n == nullptr) continue;
    if (n->oldest_handover_age() > Duration::seconds(2))
      suspect(stuck_handover, i + 1,
              fmt::format("node-{} has a handover open for {} ms", i + 1,
                          n->oldest_handover_age().us() / 1000));
    scratch_.clear();
    n->in_transit(scratch_);
    for (auto p : scratch_)
      if (p <= config_.players) transit[p] = 1;
    for (std::size_t ci = 0; ci < n->cells().size(); ++ci) {
      if (!n->cell_active(ci)) continue;
      served[ci] = 1;
      for (const auto& e : n->cells()[ci].reals)
        if (e.kind == wire::EntityKind::player) holder[e.id.value()] = i + 1;
    }
  }
  for (std::uint32_t c = 0; c < config_.cells; ++c)
    if (served[c] == 0) suspect(unserved_cell, c, fmt::format("cell {} is served by no node", c));
  for (std::uint32_t p = 1; p <= config_.players; ++p) {
    if (joined_[p] == 0) {
      // Every client joins at the start and repeats a refused join: by now (2 x lease + 6 s after
      // the last fault at the earliest) one that no node ever held was never served at all.
      if (holder[p] == 0 && transit[p] == 0)
        suspect(never_joined, p, fmt::format("player {} has never been held by a node", p));
      continue;
    }
    if (holder[p] == 0) {
      if (transit[p] == 0)
        suspect(unheld_player, p, fmt::format("player {} is held by no node", p));
      continue;
    }
    const cluster::Gateway* g = gateways[gateway_of_player[p - 1]];
    if (g != nullptr && g->route_of(p) != holder[p])
      suspect(misrouted, p,
              fmt::format("player {} routed to node-{} but held by node-{}", p, g->route_of(p),
                          holder[p]));
  }
  if (!confirm) {
    suspects_ = std::move(found);
    return;
  }
  liveness_checked_ = true;
  for (std::size_t k = 0; k < found.size(); ++k) {
    if (std::find(suspects_.begin(), suspects_.end(), found[k]) == suspects_.end()) continue;
    ++liveness_;
    log_.add("liveness.violations", now_, found[k].second, details[k]);
  }
}

void ClusterChecker::finish(std::span<WorldNode* const> nodes) {
  // Handovers still open at the end count as failed (timed out) unless they began in the last
  // two seconds and simply had no time to finish.
  for (const auto& [hid, o] : open_)
    if (now_ - o.started > Duration::seconds(2)) ++handovers_.failed;
  open_.clear();
  (void)nodes;  // the runner sweeps once more just before: missing_since_ is current
  for (std::uint32_t p = 1; p <= config_.players; ++p) {
    if (joined_[p] == 0 || lost_clock_[p] == Time::max() || lost_flag_[p] != 0) continue;
    if (now_ - lost_clock_[p] <= config_.transit_bound) continue;
    ++lost_;
    log_.add("players.lost", now_, p,
             fmt::format("player {} held by no node at the end, for {} ms", p,
                         (now_ - lost_clock_[p]).us() / 1000));
  }
}

}  // namespace shardsim::sim
