#include "engine/world/aoi_index.h"

#include <algorithm>

#include "engine/core/assert.h"

namespace shardsim {

AoiIndex::AoiIndex(Rect bounds, std::int64_t bucket_mm)
    : bounds_{bounds} {
  SHARD_ASSERT(bucket_mm > 0);
  SHARD_ASSERT(bounds.max.x > bounds.min.x);
  SHARD_ASSERT(bounds.max.y > bounds.min.y);
  nx_ = static_cast<int>((bounds.max.x - bounds.min.x + bucket_mm - 1) / bucket_mm);
  ny_ = static_cast<int>((bounds.max.y - bounds.min.y + bucket_mm - 1) / bucket_mm);
  axis_x_ = GridAxis{bounds.min.x, bucket_mm, nx_};
  axis_y_ = GridAxis{bounds.min.y, bucket_mm, ny_};
  offsets_.assign(static_cast<std::size_t>(nx_) * ny_ + 1, 0);
}

void AoiIndex::build() {
  std::fill(offsets_.begin(), offsets_.end(), 0);
  bucket_of_.resize(staged_.size());
  for (std::size_t i = 0; i < staged_.size(); ++i) {
    const auto b = static_cast<std::uint32_t>(bucket_y(staged_[i].pos.y) * nx_ +
                                              bucket_x(staged_[i].pos.x));
    bucket_of_[i] = b;
    ++offsets_[b + 1];
  }
  for (std::size_t b = 1; b < offsets_.size(); ++b) offsets_[b] += offsets_[b - 1];
  entries_.resize(staged_.size());
  // Stable placement: walk entries in order, filling each bucket front to back.
  for (std::size_t i = 0; i < staged_.size(); ++i) entries_[offsets_[bucket_of_[i]]++] = staged_[i];
  // offsets_[b] now holds the end of bucket b; shift back so offsets_[b] is its start again.
  for (std::size_t b = offsets_.size() - 1; b > 0; --b) offsets_[b] = offsets_[b - 1];
  offsets_[0] = 0;
}

void AoiIndex::query(Vec2 center, std::int64_t radius_mm, std::vector<AoiEntry>& out) const {
  const std::size_t base = out.size();
  out.resize(base + entries_.size());
  out.resize(base + query(center, radius_mm, out.data() + base));
}

std::size_t AoiIndex::query(Vec2 center, std::int64_t radius_mm, AoiEntry* out) const {
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
    const std::uint32_t row = static_cast<std::uint32_t>(by * nx_);
    const std::uint32_t begin = offsets_[row + static_cast<std::uint32_t>(x0)];
    const std::uint32_t end = offsets_[row + static_cast<std::uint32_t>(x1) + 1];
    for (std::uint32_t i = begin; i < end; ++i)  // buckets x0..x1 of a row are contiguous
      if (dist2(entries_[i].pos, center) <= r2) out[n++] = entries_[i];
  }
  return n;
}

}  // namespace shardsim
