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

}  // namespace shardsim
