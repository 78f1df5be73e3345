// AoiIndex: a uniform-grid spatial index over one cell's reals and ghosts, rebuilt every tick.
//
// The grid covers the cell's rectangle grown by its ghost margin, with square buckets whose side is the
// outer AOI radius, so a query of that radius touches at most 3x3 buckets. Storage is compressed rows
// (bucket offsets + one entry array) built by a counting sort: a rebuild is two linear passes and does not
// allocate once the arrays reached their peak size. Entry order within a bucket is insertion order, so
// query results are deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/divider.h"
#include "engine/core/geometry.h"
#include "engine/core/ids.h"
#include "engine/wire/messages.h"

namespace shardsim {

struct AoiEntry {
  EntityId id;
  Vec2 pos;
  wire::EntityKind kind{wire::EntityKind::player};
};

class AoiIndex {
 public:
  AoiIndex() = default;
  // bounds: the area entries may fall in (entries outside are clamped to the border buckets).
  AoiIndex(Rect bounds, std::int64_t bucket_mm);

  void clear() { staged_.clear(); }
  void add(const AoiEntry& e) { staged_.push_back(e); }
  void build();

  // Appends to `out` every entry within `radius_mm` of `center` (inclusive).
  void query(Vec2 center, std::int64_t radius_mm, std::vector<AoiEntry>& out) const;
  // The same entries, written at `out`, which has room for size() entries; returns how many. For a
  // caller that queries often: no capacity check per entry found.
  std::size_t query(Vec2 center, std::int64_t radius_mm, AoiEntry* out) const;
  std::size_t size() const { return entries_.size(); }

 private:
  int bucket_x(std::int64_t x) const { return static_cast<int>(axis_x_(x)); }
  int bucket_y(std::int64_t y) const { return static_cast<int>(axis_y_(y)); }

  Rect bounds_;
  // A bucket per coordinate was visible in rebuilds and queries: a multiply, not a division.
  GridAxis axis_x_;
  GridAxis axis_y_;
  int nx_{1};
  int ny_{1};
  std::vector<AoiEntry> staged_;
  std::vector<AoiEntry> entries_;
  std::vector<std::uint32_t> offsets_{0, 0};  // nx*ny + 1 (a default index is one bucket)
  std::vector<std::uint32_t> bucket_of_;
};

}  // namespace shardsim
