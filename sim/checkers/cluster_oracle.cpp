#include "sim/checkers/cluster_oracle.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace shardsim::sim {

std::int64_t ClusterOracle::margin_for(std::int64_t max_speed_mm_s, Duration lag) {
  const std::int64_t lag_us = lag.us();
  return (2 * max_speed_mm_s * lag_us + 999'999) / 1'000'000;
}

ClusterOracle::ClusterOracle(ViolationLog& log, Config config)
    : log_{log},
      config_{config},
      holder_(config.players + 1, 0),
      prev_holder_(config.players + 1, 0) {
  const std::int64_t side = std::max<std::int64_t>(1, config_.outer_mm + config_.margin_mm);
  cols_ = GridAxis{0, side, std::max<std::int64_t>(1, (config_.width_mm + side - 1) / side)};
  rows_ = GridAxis{0, side, std::max<std::int64_t>(1, (config_.height_mm + side - 1) / side)};
  bucket_start_.assign(static_cast<std::size_t>(cols_.buckets() * rows_.buckets() + 1), 0);
}

void ClusterOracle::take_truth(std::span<WorldNode* const> nodes) {
  by_id_.clear();
  transit_.clear();
  std::swap(holder_, prev_holder_);
  std::fill(holder_.begin(), holder_.end(), 0);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const WorldNode* node = nodes[n];
    if (node == nullptr) continue;
    scratch_.clear();
    node->in_transit(scratch_);
    node->migrating_in(scratch_);
    transit_.insert(transit_.end(), scratch_.begin(), scratch_.end());
    for (std::size_t ci = 0; ci < node->cells().size(); ++ci) {
      if (!node->cell_owned(ci)) continue;
      const bool active = node->cell_active(ci);
      for (const auto& e : node->cells()[ci].reals) {
        by_id_.push_back({e.id.value(), e.pos});
        const std::uint64_t id = e.id.value();
        if (active && e.kind == wire::EntityKind::player && id <= config_.players && holder_[id] == 0)
          holder_[id] = static_cast<std::uint32_t>(n + 1);
      }
    }
  }
  // By id, then position: an id can be real twice (a frozen source and its installed target, for a
  // sweep), and which one find() returns must not depend on the sort.
  std::sort(by_id_.begin(), by_id_.end(), [](const Item& a, const Item& b) {
    if (a.id != b.id) return a.id < b.id;
    return a.pos.x != b.pos.x ? a.pos.x < b.pos.x : a.pos.y < b.pos.y;
  });
  std::sort(transit_.begin(), transit_.end());
  // Grouped by bucket (a counting sort, stable, so each bucket stays in id order).
  std::fill(bucket_start_.begin(), bucket_start_.end(), 0);
  for (const auto& it : by_id_) ++bucket_start_[bucket_of(it.pos) + 1];
  for (std::size_t b = 1; b < bucket_start_.size(); ++b) bucket_start_[b] += bucket_start_[b - 1];
  by_bucket_.resize(by_id_.size());
  scratch_.assign(bucket_start_.begin(), bucket_start_.end());
  for (const auto& it : by_id_) by_bucket_[scratch_[bucket_of(it.pos)]++] = it;
}

const ClusterOracle::Item* ClusterOracle::find(std::uint64_t id) const {
  const auto it = std::lower_bound(by_id_.begin(), by_id_.end(), id,
                                   [](const Item& a, std::uint64_t v) { return a.id < v; });
  return it != by_id_.end() && it->id == id ? &*it : nullptr;
}

bool ClusterOracle::was_real(std::uint64_t id) const {
  return std::binary_search(prev_real_.begin(), prev_real_.end(), id);
}

bool ClusterOracle::in_transit(std::uint64_t id) const {
  return std::binary_search(transit_.begin(), transit_.end(), id);
}

void ClusterOracle::check_view(const Entity& player, Time now) {
  ++views_checked_;
  const std::uint64_t pid = player.id.value();
  const auto& view = player.view;  // sorted by id
  const std::int64_t in = std::max<std::int64_t>(0, config_.radius_mm - config_.margin_mm);
  const std::int64_t in2 = in * in;
  const std::int64_t out = config_.outer_mm + config_.margin_mm;
  const std::int64_t out2 = out * out;
  const auto in_view = [&](std::uint64_t id) {
    const auto it = std::lower_bound(view.begin(), view.end(), id,
                                     [](const ViewEntry& a, std::uint64_t v) { return a.id.value() < v; });
    return it != view.end() && it->id.value() == id;
  };
  const auto distance = [&](Vec2 p) {
    return static_cast<std::int64_t>(std::sqrt(static_cast<double>(dist2(p, player.pos))));
  };
  // Missing: a steady real entity well inside the radius that the view lacks.
  const std::int64_t ncols = cols_.buckets();
  const std::int64_t nrows = rows_.buckets();
  const std::int64_t pc = cols_(player.pos.x);
  const std::int64_t pr = rows_(player.pos.y);
  for (std::int64_t r = std::max<std::int64_t>(0, pr - 1); r <= std::min(nrows - 1, pr + 1); ++r) {
    for (std::int64_t c = std::max<std::int64_t>(0, pc - 1); c <= std::min(ncols - 1, pc + 1); ++c) {
      const auto b = static_cast<std::size_t>(r * ncols + c);
      for (std::uint32_t k = bucket_start_[b]; k < bucket_start_[b + 1]; ++k) {
        const Item& e = by_bucket_[k];
        if (dist2(e.pos, player.pos) > in2 || !was_real(e.id) || in_view(e.id)) continue;
        ++mismatches_;
        log_.add("aoi.oracle_mismatches", now, pid,
                 fmt::format("entity {} is {} mm from player {} but not in its view", e.id,
                             distance(e.pos), pid));
      }
    }
  }
  // Stale: an entity in the view that is real far away, or has been real nowhere for a whole
  // sample interval.
  for (const auto& v : view) {
    const std::uint64_t id = v.id.value();
    if (const Item* e = find(id)) {
      if (dist2(e->pos, player.pos) <= out2) continue;
      ++mismatches_;
      log_.add("aoi.oracle_mismatches", now, pid,
               fmt::format("entity {} in the view of player {} is {} mm away, beyond radius + "
                           "hysteresis + margin",
                           id, pid, distance(e->pos)));
    } else if (!in_transit(id) && !was_real(id)) {
      ++mismatches_;
      log_.add("aoi.oracle_mismatches", now, pid,
               fmt::format("entity {} in the view of player {} has been real nowhere for a whole "
                           "sample interval",
                           id, pid));
    }
  }
}

void ClusterOracle::sample(std::span<WorldNode* const> nodes, Time now, bool quiet) {
  take_truth(nodes);
  if (quiet && samples_ > 0) {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const WorldNode* node = nodes[n];
      if (node == nullptr) continue;
      for (std::size_t ci = 0; ci < node->cells().size(); ++ci) {
        if (!node->cell_active(ci)) continue;
        for (const auto& e : node->cells()[ci].reals) {
          if (e.kind != wire::EntityKind::player) continue;
          const std::uint64_t pid = e.id.value();
          // Steady: held here at the previous sample too, and not in anyone's transit now.
          if (pid > config_.players || holder_[pid] != n + 1 || prev_holder_[pid] != n + 1 ||
              in_transit(pid))
            continue;
          check_view(e, now);
        }
      }
    }
  }
  ++samples_;
  prev_real_.clear();
  for (const auto& it : by_id_) prev_real_.push_back(it.id);
  prev_real_.insert(prev_real_.end(), transit_.begin(), transit_.end());
  std::sort(prev_real_.begin(), prev_real_.end());
}

}  // namespace shardsim::sim
