#include "engine/world/aoi_index.h"

#include <algorithm>

#include "engine/core/assert.h"

namespace shardsim {

AoiIndex::AoiIndex(Rect bounds, std::int64_t bucket_mm)
    : bounds_{bounds}, divide_{bucket_mm} {
  SHARD_ASSERT(bucket_mm > 0);
  SHARD_ASSERT(bounds.max.x > bounds.min.x);
  SHARD_ASSERT(bounds.max.y > bounds.min.y);
  nx_ = static_cast<int>((bounds.max.x - bounds.min.x + bucket_mm - 1) / bucket_mm);
  ny_ = static_cast<int>((bounds.max.y - bounds.min.y + bucket_mm - 1) / bucket_mm);
  offsets_.assign(static_cast<std::size_t>(nx_) * ny_ + 1, 0);
}

int AoiIndex::bucket_x(std::int64_t x) const {
  const std::int64_t b = divide_(x - bounds_.min.x);
  return static_cast<int>(std::clamp<std::int64_t>(b, 0, nx_ - 1));
}

int AoiIndex::bucket_y(std::int64_t y) const {
  const std::int64_t b = divide_(y - bounds_.min.y);
  return static_cast<int>(std::clamp<std::int64_t>(b, 0, ny_ - 1));
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
  const std::int64_t ax = center.x - bounds_.min.x;
  const std::int64_t ay = center.y - bounds_.min.y;
  if (radius_mm == divide_.divisor() && ax >= 0 && ay >= 0) {
    // The usual query (radius = bucket side, centre inside the bounds' lower edges): the range is
    // the centre's bucket +- 1, clamped — what the four divisions below give, with two of them.
    const std::int64_t qx = divide_(ax);
    const std::int64_t qy = divide_(ay);
    x0 = static_cast<int>(std::clamp<std::int64_t>(qx - 1, 0, nx_ - 1));
    x1 = static_cast<int>(std::clamp<std::int64_t>(qx + 1, 0, nx_ - 1));
    y0 = static_cast<int>(std::clamp<std::int64_t>(qy - 1, 0, ny_ - 1));
    y1 = static_cast<int>(std::clamp<std::int64_t>(qy + 1, 0, ny_ - 1));
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
