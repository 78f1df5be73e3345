#include "net_model/network.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "engine/core/assert.h"

namespace shardsim::net {
namespace {

void check_config(const LinkConfig& cfg) {
  SHARD_ASSERT_MSG(cfg.loss_ppm <= 1'000'000, "loss_ppm={}", cfg.loss_ppm);
  SHARD_ASSERT_MSG(cfg.duplicate_ppm <= 1'000'000, "duplicate_ppm={}", cfg.duplicate_ppm);
  SHARD_ASSERT_MSG(cfg.reorder_ppm <= 1'000'000, "reorder_ppm={}", cfg.reorder_ppm);
}

// A tag table indexed by host value, grown to fit the largest host named.
void set_tag(std::vector<std::uint32_t>& tags, HostId h, std::uint32_t tag) {
  if (h.value() >= tags.size()) tags.resize(static_cast<std::size_t>(h.value()) + 1, 0);
  tags[h.value()] |= tag;
}

}  // namespace

Time& NetworkModel::FifoTable::probe(std::uint64_t key) {
  for (;;) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(key);; i = (i + 1) & mask) {
      Slot& slot = slots_[i];
      if (slot.key == key) return slot.last;
      if (slot.key != kEmpty) continue;
      if ((size_ + 1) * 2 > slots_.size()) break;  // would exceed load 1/2: grow, then probe again
      slot.key = key;
      slot.last = Time::zero();
      ++size_;
      return slot.last;
    }
    grow();
  }
}

void NetworkModel::FifoTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  const std::size_t capacity = old.empty() ? 64 : old.size() * 2;
  slots_.assign(capacity, Slot{});
  shift_ = 64 - std::countr_zero(capacity);
  const std::size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    std::size_t i = home(s.key);
    while (slots_[i].key != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

bool NetworkModel::Partition::cuts(HostId from, HostId to) const {
  switch (kind) {
    case PartitionKind::groups: {
      const std::uint32_t a = tag(from);
      const std::uint32_t b = tag(to);
      return a != 0 && b != 0 && a != b;
    }
    case PartitionKind::oneway:
      return (tag(from) & 1u) != 0 && (tag(to) & 2u) != 0;
    case PartitionKind::isolate:
      return (from == host) != (to == host);
  }
  return false;
}

NetworkModel::NetworkModel(std::uint64_t seed, LinkConfig default_link)
    : latency_rng_{Rng::stream(seed, "net.latency")},
      fate_rng_{Rng::stream(seed, "net.fate")},
      duplicate_rng_{Rng::stream(seed, "net.duplicate")},
      reorder_rng_{Rng::stream(seed, "net.reorder")} {
  default_link_ = make_link(default_link);
}

NetworkModel::Link NetworkModel::make_link(const LinkConfig& cfg) {
  check_config(cfg);
  Link link{cfg, 0};
  const auto below = [](std::uint32_t ppm) {
    // ppm <= 1e6 (check_config), so this is at most 2^21 and 0 only for 0.
    return static_cast<std::uint32_t>(
        (std::uint64_t{ppm} * (kFateMask + 1) + 500'000) / 1'000'000);
  };
  link.loss_below = below(cfg.loss_ppm);
  link.duplicate_below = below(cfg.duplicate_ppm);
  link.reorder_below = below(cfg.reorder_ppm);
  link.fate_draw = cfg.loss_ppm != 0 || cfg.duplicate_ppm != 0 || cfg.reorder_ppm != 0;
  const auto same = [&](const LatencySampler& s) { return s.spec() == cfg.latency; };
  const auto it = std::find_if(samplers_.begin(), samplers_.end(), same);
  if (it != samplers_.end()) {
    link.sampler = static_cast<std::uint32_t>(it - samplers_.begin());
  } else {
    link.sampler = static_cast<std::uint32_t>(samplers_.size());
    samplers_.emplace_back(cfg.latency);
  }
  return link;
}

const NetworkModel::Link& NetworkModel::link_for(std::uint64_t key) const {
  const auto it = overrides_.find(key);
  return it == overrides_.end() ? default_link_ : it->second;
}

const LinkConfig& NetworkModel::link(HostId from, HostId to) const {
  return link_for(link_key(from, to)).config;
}

void NetworkModel::set_default_link(LinkConfig cfg) { default_link_ = make_link(cfg); }

void NetworkModel::set_link(HostId a, HostId b, LinkConfig cfg, bool both_directions) {
  const Link link = make_link(cfg);
  overrides_.insert_or_assign(link_key(a, b), link);
  if (both_directions) overrides_.insert_or_assign(link_key(b, a), link);
  update_special();
}

void NetworkModel::clear_link(HostId a, HostId b, bool both_directions) {
  overrides_.erase(link_key(a, b));
  if (both_directions) overrides_.erase(link_key(b, a));
  update_special();
}

Fate NetworkModel::decide_special(HostId from, HostId to, Time now) {
  ++stats_.sent;
  const std::uint64_t key = link_key(from, to);
  if (!held_.empty() && held_.contains(key)) {
    ++stats_.held;
    return Fate{.kind = FateKind::hold};
  }

  // Draw everything first, so that each stream's consumption depends only on its own settings and
  // outcomes (see the header), never on partitions or other streams.
  const Draws d = draw(overrides_.empty() ? default_link_ : link_for(key));
  if (!partitions_.empty()) {
    const DropReason reason = cut_reason(from, to);
    if (reason != DropReason::none) {
      ++stats_.dropped_partition;
      return Fate{.kind = FateKind::drop, .reason = reason};
    }
  }
  return settle(d, key, now);
}

DropReason NetworkModel::cut_reason(HostId from, HostId to) const {
  if (from == to) return DropReason::none;
  for (const Partition& p : partitions_) {
    if (p.cuts(from, to)) {
      return p.kind == PartitionKind::isolate ? DropReason::isolated : DropReason::partition;
    }
  }
  return DropReason::none;
}

bool NetworkModel::connected(HostId from, HostId to) const {
  return cut_reason(from, to) == DropReason::none;
}

PartitionId NetworkModel::add_partition(Partition p) {
  p.id = PartitionId{next_partition_++};
  partitions_.push_back(std::move(p));
  update_special();
  return partitions_.back().id;
}

PartitionId NetworkModel::partition(std::vector<std::vector<HostId>> groups) {
  Partition p;
  p.kind = PartitionKind::groups;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto tag = static_cast<std::uint32_t>(g + 1);
    for (const HostId h : groups[g]) {
      const std::uint32_t previous = p.tag(h);
      SHARD_ASSERT_MSG(previous == 0 || previous == tag, "host {} is in groups {} and {}",
                       h.value(), previous - 1, g);
      set_tag(p.tag_by_host, h, tag);
    }
  }
  return add_partition(std::move(p));
}

PartitionId NetworkModel::partition_oneway(std::vector<HostId> from, std::vector<HostId> to) {
  Partition p;
  p.kind = PartitionKind::oneway;
  for (const HostId h : from) set_tag(p.tag_by_host, h, 1u);
  for (const HostId h : to) set_tag(p.tag_by_host, h, 2u);
  return add_partition(std::move(p));
}

PartitionId NetworkModel::isolate(HostId h) {
  Partition p;
  p.kind = PartitionKind::isolate;
  p.host = h;
  return add_partition(std::move(p));
}

void NetworkModel::heal(PartitionId id) {
  SHARD_ASSERT_MSG(id.value() >= 1 && id.value() < next_partition_, "partition id {} never issued",
                   id.value());
  const auto it = std::find_if(partitions_.begin(), partitions_.end(),
                               [&](const Partition& p) { return p.id == id; });
  if (it != partitions_.end()) partitions_.erase(it);
  update_special();
}

void NetworkModel::heal_all() {
  partitions_.clear();
  update_special();
}

void NetworkModel::hold(HostId a, HostId b) {
  held_.insert(link_key(a, b));
  update_special();
}

void NetworkModel::release(HostId a, HostId b) {
  held_.erase(link_key(a, b));
  update_special();
}

}  // namespace shardsim::net
