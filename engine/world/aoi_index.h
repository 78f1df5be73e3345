// AoiIndex: a uniform-grid spatial index over a node's reals and ghosts, rebuilt every tick.
//
// The grid covers the world, with square buckets whose side is the outer AOI radius, so a query of
// that radius touches at most 3x3 buckets. Storage is one entry array in bucket order (row, then
// column), with either every bucket's start (dense: a counting sort, two linear passes over entries
// and buckets) or, for grids of more than kDenseBucketsMax buckets, every row's start and the
// column of each entry (sparse: a counting sort by row, then each row sorted by column). Neither
// allocates once the arrays reached their peak size. Entry order within a bucket is insertion
// order, so query results are deterministic, and the same in both layouts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/core/divider.h"
#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/wire/messages.h"

namespace shardsim {

// An entity as the AOI index holds it. `source` says where the copy came from, for a node whose
// index can hold an entity twice (Phase B): kSourceReal, kSourceRemote + the slot (from 0) of the
// node that sent the ghost, or kSourceInFlight (a copy standing where an entity left a node: ours,
// or another node's sent with cluster::kGhostStanding; see WorldNode::authority_rank). Which copy
// is authoritative is decided only where an id turns up twice (keep_one_per_id). In the padding:
// 32 bytes.
inline constexpr std::uint16_t kSourceReal = 0;
inline constexpr std::uint16_t kSourceRemote = 1;
inline constexpr std::uint16_t kSourceInFlight = 0xffff;  // node slots stay below it

struct AoiEntry {
  EntityId id;
  Vec2 pos;
  wire::EntityKind kind{wire::EntityKind::player};
  std::uint16_t source{kSourceReal};
};
static_assert(sizeof(AoiEntry) == 32);

// Keeps one entry per id of entries[0, n), which are sorted by id, and returns how many are left, in
// order at the front. A node's index can briefly hold an entity twice (Phase B): real here and a
// ghost from the node it came from (a migrated NPC); in flight from here and ghosted by the node it
// went to; ghosted by two nodes. Of an id's copies the one with the lowest rank(entry) is kept,
// whatever buckets they sit in; of equal ranks, the first. A branch-free scan comes first: nearly
// every call finds no id twice, and rank() runs only for the ids that are.
template <class Rank>
std::size_t keep_one_per_id(AoiEntry* entries, std::size_t n, Rank&& rank) {
  bool twice = false;
  for (std::size_t i = 1; i < n; ++i) twice |= entries[i].id == entries[i - 1].id;
  if (!twice) [[likely]]
    return n;
  std::size_t out = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t best = i;
    std::size_t j = i + 1;
    for (; j < n && entries[j].id == entries[i].id; ++j)
      if (rank(entries[j]) < rank(entries[best])) best = j;
    entries[out++] = entries[best];
    i = j;
  }
  return out;
}

class AoiIndex {
 public:
  // Up to this many buckets the index keeps an array with every bucket's start, cleared and
  // summed on every build (a counting sort by bucket). Beyond it — a world far larger than its AOI
  // radius: 100 km with 110 m buckets (radius + hysteresis) is 826,000 buckets, for a few thousand
  // entries per node — it keeps only each row's start (a counting sort by row), and each row's
  // entries sorted by column, where a query finds its columns by binary search: the cost follows
  // the entries and the rows (909 there; the scenario loader allows at most 65,536), not the area.
  // Both give the same entries in the same order: by row, column, then as added.
  // Where one overtakes the other (1000 players on 4 nodes, bots at 2-8 per cell, 30 s, user
  // time): at 16 km (21,000 buckets) they tie, 0.37 s each; at 24 km (48,000) the sparse one is
  // ahead, 0.46 s against 0.50 s; at 4 km (1,300) it is 17 % behind, and on entities_10k 40 %.
  static constexpr std::uint64_t kDenseBucketsMax = std::uint64_t{1} << 15;

  AoiIndex() = default;
  // bounds: the area entries may fall in (entries outside are clamped to the border buckets).
  // dense_buckets_max: see kDenseBucketsMax (tests lower it to compare the two layouts).
  AoiIndex(Rect bounds, std::int64_t bucket_mm, std::uint64_t dense_buckets_max = kDenseBucketsMax);

  void clear() { staged_.clear(); }
  void add(const AoiEntry& e) { staged_.push_back(e); }
  void build();

  // Appends to `out` every entry within `radius_mm` of `center` (inclusive).
  void query(Vec2 center, std::int64_t radius_mm, std::vector<AoiEntry>& out) const;
  // The same entries, written at `out`, which has room for size() entries; returns how many. For a
  // caller that queries often: no capacity check per entry found.
  std::size_t query(Vec2 center, std::int64_t radius_mm, AoiEntry* out) const;
  std::size_t size() const { return entries_.size(); }
  bool dense() const { return dense_; }

 private:
  int bucket_x(std::int64_t x) const { return static_cast<int>(axis_x_(x)); }
  int bucket_y(std::int64_t y) const { return static_cast<int>(axis_y_(y)); }

  Rect bounds_;
  // A bucket per coordinate was visible in rebuilds and queries: a multiply, not a division.
  GridAxis axis_x_;
  GridAxis axis_y_;
  int nx_{1};
  int ny_{1};
  // Sparse layout: the first entry of row `by` in a column at or after `bx`.
  std::uint32_t row_lower(int by, int bx) const {
    const auto first = column_.begin() + row_start_[static_cast<std::size_t>(by)];
    const auto last = column_.begin() + row_start_[static_cast<std::size_t>(by) + 1];
    return static_cast<std::uint32_t>(std::lower_bound(first, last, static_cast<std::uint32_t>(bx)) -
                                      column_.begin());
  }
  template <class Key, class Placed>
  void counting_sort(std::vector<std::uint32_t>& starts, Key&& key, Placed&& placed);
  void build_sparse();

  bool dense_{true};
  std::vector<AoiEntry> staged_;
  std::vector<AoiEntry> entries_;  // by bucket, and within a bucket in the order added
  // Dense layout: bucket b's entries are entries_[offsets_[b], offsets_[b + 1]).
  std::vector<std::uint32_t> offsets_{0, 0};  // dense: nx*ny + 1 (a default index is one bucket)
  std::vector<std::uint32_t> bucket_of_;
  // Sparse layout: row y's entries are entries_[row_start_[y], row_start_[y + 1]), ascending by
  // column; column_[i] is the column of entries_[i]. order_ is room for sorting a long row.
  std::vector<std::uint32_t> row_start_;
  std::vector<std::uint32_t> column_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> order_;
  std::vector<AoiEntry> row_scratch_;
};

// Inline: publish_view() queries once per player per tick.
inline std::size_t AoiIndex::query(Vec2 center, std::int64_t radius_mm, AoiEntry* out) const {
  int x0, x1, y0, y1;
  if (radius_mm == axis_x_.side()) {
    // The usual query (radius = bucket side): the centre's bucket +- 1, clamped. That covers every
    // bucket the disc touches; where the centre lies outside the bounds it may also take a column
    // or row (x0 or x1 next to a border) that the disc does not reach, whose entries are all beyond
    // the radius: the result, and its order, are the same.
    const int cx = bucket_x(center.x);
    const int cy = bucket_y(center.y);
    x0 = cx > 0 ? cx - 1 : 0;
    x1 = cx < nx_ - 1 ? cx + 1 : nx_ - 1;
    y0 = cy > 0 ? cy - 1 : 0;
    y1 = cy < ny_ - 1 ? cy + 1 : ny_ - 1;
  } else {
    x0 = bucket_x(center.x - radius_mm);
    x1 = bucket_x(center.x + radius_mm);
    y0 = bucket_y(center.y - radius_mm);
    y1 = bucket_y(center.y + radius_mm);
  }
  const std::int64_t r2 = radius_mm * radius_mm;
  std::size_t n = 0;
  for (int by = y0; by <= y1; ++by) {
    std::uint32_t begin;
    std::uint32_t end;
    if (dense_) [[likely]] {
      const std::uint32_t row = static_cast<std::uint32_t>(by * nx_);
      begin = offsets_[row + static_cast<std::uint32_t>(x0)];
      end = offsets_[row + static_cast<std::uint32_t>(x1) + 1];
    } else {
      begin = row_lower(by, x0);
      end = row_lower(by, x1 + 1);
    }
    // Buckets x0..x1 of a row are contiguous. Without a branch: every entry is written and kept only
    // if within the radius (out has room for size() entries). Whether an entry is in range is a coin
    // toss to the predictor — this test was ~15 % of quickstart's mispredicted branches
    // (cachegrind --branch-sim) — and the store costs less than the mispredictions did.
    for (std::uint32_t i = begin; i < end; ++i) {
      out[n] = entries_[i];
      n += static_cast<std::size_t>(dist2(entries_[i].pos, center) <= r2);
    }
  }
  return n;
}

}  // namespace shardsim
