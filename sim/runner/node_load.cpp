#include "sim/runner/node_load.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "engine/core/assert.h"
#include "sim/runner/metrics.h"

namespace shardsim::sim {

NodeLoad::NodeLoad(std::size_t nodes, Duration every)
    : every_{every}, nodes_(nodes), now_(nodes) {
  SHARD_ASSERT(nodes > 0);
  SHARD_ASSERT(every > Duration::zero());
}

std::uint64_t NodeLoad::read(std::span<WorldNode* const> running) {
  SHARD_ASSERT(running.size() == nodes_.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < running.size(); ++i) {
    Now now;
    if (const WorldNode* n = running[i]; n != nullptr) {
      const auto& cells = n->cells();
      for (std::size_t ci = 0; ci < cells.size(); ++ci) {
        if (!n->cell_active(ci)) continue;
        ++now.cells;
        now.load += cells[ci].reals.size();
        for (const Entity& e : cells[ci].reals) now.players += e.kind == wire::EntityKind::player;
      }
    }
    Figures& f = nodes_[i];
    f.load_peak = std::max(f.load_peak, now.load);
    f.players_peak = std::max(f.players_peak, now.players);
    now_[i] = now;
    total += now.load;
  }
  return total;
}

void NodeLoad::sample(Time now, std::span<WorldNode* const> running) {
  if (now < next_) return;
  while (next_ <= now) next_ += every_;
  const std::uint64_t total = read(running);
  const double weight = static_cast<double>((now - last_).us());
  last_ = now;
  if (total == 0) return;  // nothing to spread: no ratio
  std::uint64_t max = 0;
  for (const Now& n : now_) max = std::max(max, n.load);
  // max / (total / nodes)
  const double ratio = static_cast<double>(max * now_.size()) / static_cast<double>(total);
  imbalance_weighted_ += ratio * weight;
  imbalance_time_ += weight;
}

void NodeLoad::finish(std::span<WorldNode* const> running) {
  read(running);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].load_end = now_[i].load;
    nodes_[i].players_end = now_[i].players;
    nodes_[i].cells_end = now_[i].cells;
  }
}

double NodeLoad::imbalance_mean() const {
  if (imbalance_time_ <= 0) return 0;
  return std::round(imbalance_weighted_ / imbalance_time_ * 1000.0) / 1000.0;
}

std::vector<std::pair<std::string, double>> node_load_metrics(std::span<const std::string> names,
                                                              const NodeLoad& load) {
  SHARD_ASSERT(names.size() == load.nodes().size());
  std::vector<std::pair<std::string, double>> out;
  out.reserve(names.size() * std::size(kNodeFields));
  for (std::size_t i = 0; i < names.size(); ++i) {
    const NodeLoad::Figures& f = load.nodes()[i];
    for (const MetricInfo& field : kNodeFields) {
      std::uint64_t v = 0;
      if (field.name == "load.end") v = f.load_end;
      else if (field.name == "load.peak") v = f.load_peak;
      else if (field.name == "players.end") v = f.players_end;
      else if (field.name == "players.peak") v = f.players_peak;
      else if (field.name == "cells.end") v = f.cells_end;
      else SHARD_ASSERT_MSG(false, "node field {} has no source", field.name);
      out.emplace_back(fmt::format("{}{}.{}", kNodeMetricPrefix, names[i], field.name),
                       static_cast<double>(v));
    }
  }
  return out;
}

}  // namespace shardsim::sim
