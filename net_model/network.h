// NetworkModel: decides the fate of every message the simulated hosts send to each other.
//
// The model never schedules anything and never sees the kernel: for each message, decide() answers
// "drop (why)", "deliver at t1, maybe a duplicate at t2" or "hold"; an adapter in sim/ turns that
// into kernel events. It is a pure function of (seed, configuration calls, decide() calls).
//
// Order of checks in decide(from, to, now):
// 1. hold: a held (clogged) directed link answers FateKind::hold and draws no random numbers.
//    After release() the caller re-decides the held messages, in their send order.
// 2. partition: if ANY active partition cuts from -> to, the message is dropped, with reason
//    isolated when the first cutting partition (in creation order) came from isolate(), partition
//    otherwise. A message from a host to itself is never cut.
// 3. loss: dropped with probability loss_ppm.
// 4. deliver: deliver_at = now + latency, clamped to no earlier than the previous delivery on the
//    same directed link (FIFO; equal times keep send order because the kernel breaks ties by
//    insertion sequence). With probability reorder_ppm the message instead gets now + latency +
//    one extra latency sample, skips the clamp and does not advance it, so later messages may
//    overtake it. With probability duplicate_ppm a second copy arrives at duplicate_at =
//    deliver_at + an independent latency sample: never before the original; the copy neither
//    obeys nor advances the FIFO clamp.
//
// Random streams: one per purpose, Rng::stream(seed, "net.latency" | "net.fate" | "net.duplicate"
// | "net.reorder"). Every decide() that does not hold draws the same numbers whatever partitions
// decide: one latency draw; one fate draw when any of loss, duplicate and reorder is non-zero, whose
// three 21-bit fields decide the three independently; plus one delay draw on the duplicate / reorder
// stream when it fires. So changing the loss rate or a partition does not change which latency a
// message gets. One fate draw rather than one per decision: the draws were half of decide()'s
// instructions. The price is resolution: a probability p is applied as round(p * 2^21) / 2^21,
// within 0.24 ppm of p (0.1 % is applied as 999.93 ppm); 0 and 100 % stay exact.
//
// State and cost: per-directed-link state (FIFO clamp, overrides, holds) is keyed by (from, to)
// packed into a uint64 and only looked up, never iterated, so no hash order can reach any output.
// Partitions are a short list in creation order, each with a dense per-host tag table: O(hosts)
// per partition, never O(hosts^2). With no partitions, holds or overrides active, decide() is one
// latency draw and one probe of the FIFO table, which holds one entry per directed link that has
// ever delivered a message (so it is bounded by the links in use).
//
// Not thread-safe (nothing in the simulator is).
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/core/assert.h"
#include "engine/core/ids.h"
#include "engine/core/rng.h"
#include "engine/core/time.h"
#include "net_model/latency.h"
#include "net_model/link.h"

namespace shardsim::net {

using PartitionId = Id<struct PartitionTag>;

enum class FateKind : std::uint8_t { deliver, drop, hold };
enum class DropReason : std::uint8_t { none, loss, partition, isolated };

struct Fate {
  FateKind kind{FateKind::deliver};
  DropReason reason{DropReason::none};  // none unless kind == drop
  bool duplicate{false};                // only with kind == deliver
  Time deliver_at{};                    // meaningful only with kind == deliver
  Time duplicate_at{};                  // meaningful only with duplicate

  friend bool operator==(const Fate&, const Fate&) = default;
};

class NetworkModel {
 public:
  struct Stats {
    // Every decide() call counts in sent and in exactly one of delivered, dropped_loss,
    // dropped_partition (isolation included) and held; a re-decided held message counts again.
    std::uint64_t sent{0};
    std::uint64_t delivered{0};
    std::uint64_t dropped_loss{0};
    std::uint64_t dropped_partition{0};
    std::uint64_t duplicated{0};  // delivered messages that also got a duplicate
    std::uint64_t reordered{0};   // delivered messages that skipped the FIFO clamp
    std::uint64_t held{0};
  };

  NetworkModel(std::uint64_t seed, LinkConfig default_link);

  // One call per message sent. `now` is the virtual send time.
  Fate decide(HostId from, HostId to, Time now);  // inline, below

  // Link configuration. Overrides replace the default for one directed link (or both directions).
  void set_default_link(LinkConfig cfg);
  void set_link(HostId a, HostId b, LinkConfig cfg, bool both_directions);
  void clear_link(HostId a, HostId b, bool both_directions = true);
  const LinkConfig& link(HostId from, HostId to) const;

  // Partitions. Each returns a fresh id (never reused) that heal() accepts.
  // groups: messages between hosts named in different groups are cut, both ways; hosts not named in
  // any group stay connected to everyone. A host may appear in at most one group.
  PartitionId partition(std::vector<std::vector<HostId>> groups);
  // Only from -> to is cut: messages from any host in `from` to any host in `to`.
  PartitionId partition_oneway(std::vector<HostId> from, std::vector<HostId> to);
  // Cuts h from every other host, both directions.
  PartitionId isolate(HostId h);
  // Removes one partition; healing an already healed id is a no-op (heal_all may have removed it).
  void heal(PartitionId id);
  void heal_all();

  // Clog: messages a -> b get FateKind::hold until release(a, b). Directed; idempotent.
  void hold(HostId a, HostId b);
  void release(HostId a, HostId b);

  // True when no active partition cuts from -> to. Ignores holds and loss.
  bool connected(HostId from, HostId to) const;
  std::size_t active_partitions() const { return partitions_.size(); }
  // Directed links with FIFO state (16-byte slots at load 1/4..1/2: 32 to 64 bytes per link).
  std::size_t tracked_links() const { return fifo_last_.size(); }
  Stats stats() const { return stats_; }

 private:
  // A fate field is 21 bits of the fate draw; an outcome happens when its field is below its
  // threshold, round(ppm * 2^21 / 1e6): 0 never, 2^21 always.
  static constexpr int kFateBits = 21;
  static constexpr std::uint64_t kFateMask = (std::uint64_t{1} << kFateBits) - 1;
  struct Link {
    LinkConfig config;
    std::uint32_t sampler{0};  // index into samplers_
    std::uint32_t loss_below{0};
    std::uint32_t duplicate_below{0};
    std::uint32_t reorder_below{0};
    bool fate_draw{false};  // any of the three is non-zero
  };
  enum class PartitionKind : std::uint8_t { groups, oneway, isolate };
  struct Partition {
    PartitionId id;
    PartitionKind kind{PartitionKind::groups};
    HostId host;  // isolate only
    // groups: group index + 1 per host value, 0 = not named. oneway: bit 1 = from, bit 2 = to.
    std::vector<std::uint32_t> tag_by_host;

    std::uint32_t tag(HostId h) const {
      return h.value() < tag_by_host.size() ? tag_by_host[h.value()] : 0;
    }
    bool cuts(HostId from, HostId to) const;
  };

  // The FIFO clamp per directed link: an open-addressing (linear probing) table from link key to
  // the last clamped deliver_at, because std::unordered_map's node chase and prime modulo would
  // dominate decide(). Looked up, never iterated; load factor <= 1/2; 16-byte slots (about 2 MiB
  // for 10,000 clients each talking to 4 servers, both directions).
  class FifoTable {
   public:
    FifoTable() { grow(); }  // never empty, so at() needs no check for it
    // The entry for key, inserted as Time::zero() when absent. key != ~0 (host ids < 2^32 - 1).
    // Inline for the usual case, the key in its home slot (load <= 1/2); probe() does the rest.
    Time& at(std::uint64_t key) {
      SHARD_ASSERT(key != kEmpty);
      Slot& slot = slots_[home(key)];
      if (slot.key == key) [[likely]] return slot.last;
      return probe(key);
    }
    std::size_t size() const { return size_; }

   private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    struct Slot {
      std::uint64_t key{kEmpty};
      Time last;
    };
    std::size_t home(std::uint64_t key) const {
      return static_cast<std::size_t>(((key ^ (key >> 29)) * 0x9e3779b97f4a7c15ULL) >> shift_);
    }
    Time& probe(std::uint64_t key);
    void grow();

    std::vector<Slot> slots_;  // size is a power of two, at least 64
    std::size_t size_{0};
    int shift_{64};  // 64 - log2(slots_.size())
  };

  static std::uint64_t link_key(HostId from, HostId to) {
    return (static_cast<std::uint64_t>(from.value()) << 32) | to.value();
  }

  // What one decide() draws, all of it before any outcome is known (see the header comment).
  struct Draws {
    Duration latency;
    Duration duplicate_delay;  // zero unless duplicated
    Duration reorder_delay;    // zero unless reordered
    bool lost;
    bool duplicated;
    bool reordered;
  };
  Draws draw(const Link& link);
  // The fate of a message that no hold or partition stopped: loss, then the FIFO clamp or
  // reordering, then the duplicate.
  Fate settle(const Draws& d, std::uint64_t key, Time now);
  // decide() when a hold, an override or a partition is active.
  Fate decide_special(HostId from, HostId to, Time now);
  void update_special() {
    special_ = !held_.empty() || !overrides_.empty() || !partitions_.empty();
  }
  Link make_link(const LinkConfig& cfg);
  const Link& link_for(std::uint64_t key) const;
  DropReason cut_reason(HostId from, HostId to) const;
  PartitionId add_partition(Partition p);

  Link default_link_;
  // Distinct latency specs in first-use order; links refer to them by index. Never shrinks, so an
  // index stays valid; a simulation uses a handful of specs.
  std::vector<LatencySampler> samplers_;
  std::unordered_map<std::uint64_t, Link> overrides_;
  FifoTable fifo_last_;
  std::unordered_set<std::uint64_t> held_;
  std::vector<Partition> partitions_;  // active, in creation order
  std::uint32_t next_partition_{1};
  bool special_{false};  // held_, overrides_ or partitions_ is non-empty

  Rng latency_rng_;
  Rng fate_rng_;
  Rng duplicate_rng_;
  Rng reorder_rng_;
  Stats stats_;
};

// decide() and the two steps it inlines (the rest is in network.cpp).
inline NetworkModel::Draws NetworkModel::draw(const Link& link) {
  const LatencySampler& sampler = samplers_[link.sampler];
  Draws d;
  d.latency = sampler.sample(latency_rng_);
  const std::uint64_t u = link.fate_draw ? fate_rng_.next_u64() : ~std::uint64_t{0};
  d.lost = (u & kFateMask) < link.loss_below;
  d.duplicated = ((u >> kFateBits) & kFateMask) < link.duplicate_below;
  d.duplicate_delay = d.duplicated ? sampler.sample(duplicate_rng_) : Duration::zero();
  d.reordered = ((u >> (2 * kFateBits)) & kFateMask) < link.reorder_below;
  d.reorder_delay = d.reordered ? sampler.sample(reorder_rng_) : Duration::zero();
  return d;
}

inline Fate NetworkModel::settle(const Draws& d, std::uint64_t key, Time now) {
  if (d.lost) {
    ++stats_.dropped_loss;
    return Fate{.kind = FateKind::drop, .reason = DropReason::loss};
  }
  Fate fate{.kind = FateKind::deliver};
  if (d.reordered) [[unlikely]] {
    fate.deliver_at = now + d.latency + d.reorder_delay;
    ++stats_.reordered;
  } else {
    Time& last = fifo_last_.at(key);
    fate.deliver_at = std::max(now + d.latency, last);
    last = fate.deliver_at;
  }
  if (d.duplicated) [[unlikely]] {
    fate.duplicate = true;
    fate.duplicate_at = fate.deliver_at + d.duplicate_delay;
    ++stats_.duplicated;
  }
  ++stats_.delivered;
  SHARD_ASSERT(fate.deliver_at >= now);
  return fate;
}

// The usual case, no hold, override or partition active: the draws and one FIFO probe. Inline, with
// draw() and settle(), into the kernel's send (every message): the out-of-line call and the Fate
// returned through memory were ~25 of its ~150 instructions (callgrind, cross_node 20 s).
inline Fate NetworkModel::decide(HostId from, HostId to, Time now) {
  if (special_) [[unlikely]] return decide_special(from, to, now);
  ++stats_.sent;
  return settle(draw(default_link_), link_key(from, to), now);
}

}  // namespace shardsim::net
