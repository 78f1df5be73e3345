#include "engine/world/aoi_index.h"

#include <algorithm>
#include <limits>

#include "engine/core/assert.h"

namespace shardsim {

AoiIndex::AoiIndex(Rect bounds, std::int64_t bucket_mm, std::uint64_t dense_buckets_max)
    : bounds_{bounds} {
  SHARD_ASSERT(bucket_mm > 0);
  SHARD_ASSERT(bounds.max.x > bounds.min.x);
  SHARD_ASSERT(bounds.max.y > bounds.min.y);
  const std::int64_t nx = (bounds.max.x - bounds.min.x + bucket_mm - 1) / bucket_mm;
  const std::int64_t ny = (bounds.max.y - bounds.min.y + bucket_mm - 1) / bucket_mm;
  SHARD_ASSERT(nx <= std::numeric_limits<int>::max() && ny <= std::numeric_limits<int>::max());
  nx_ = static_cast<int>(nx);
  ny_ = static_cast<int>(ny);
  axis_x_ = GridAxis{bounds.min.x, bucket_mm, nx_};
  axis_y_ = GridAxis{bounds.min.y, bucket_mm, ny_};
  const std::uint64_t buckets = static_cast<std::uint64_t>(nx_) * static_cast<std::uint64_t>(ny_);
  dense_ = buckets <= dense_buckets_max;
  if (dense_) offsets_.assign(buckets + 1, 0);
  else row_start_.assign(static_cast<std::size_t>(ny_) + 1, 0);  // a query before build() finds nothing
}

void AoiIndex::build() {
  if (!dense_) return build_sparse();
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

// A counting sort by row (stable), then each row sorted by column, stably: the dense layout's
// order. Rows are short (a row of buckets one AOI radius high), so most are sorted in place by
// insertion; a long one (a crowd along a row) through order_, by (column, position in the row).
void AoiIndex::build_sparse() {
  const std::size_t n = staged_.size();
  row_start_.assign(static_cast<std::size_t>(ny_) + 1, 0);
  bucket_of_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::uint32_t>(bucket_y(staged_[i].pos.y));
    bucket_of_[i] = row;
    ++row_start_[row + 1];
  }
  for (std::size_t y = 1; y < row_start_.size(); ++y) row_start_[y] += row_start_[y - 1];
  entries_.resize(n);
  column_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t j = row_start_[bucket_of_[i]]++;
    entries_[j] = staged_[i];
    column_[j] = static_cast<std::uint32_t>(bucket_x(staged_[i].pos.x));
  }
  for (std::size_t y = row_start_.size() - 1; y > 0; --y) row_start_[y] = row_start_[y - 1];
  row_start_[0] = 0;
  constexpr std::uint32_t kInsertionMax = 32;
  for (std::size_t y = 0; y + 1 < row_start_.size(); ++y) {
    const std::uint32_t lo = row_start_[y];
    const std::uint32_t hi = row_start_[y + 1];
    if (hi - lo <= kInsertionMax) {
      for (std::uint32_t k = lo + 1; k < hi; ++k) {
        const std::uint32_t c = column_[k];
        const AoiEntry e = entries_[k];
        std::uint32_t m = k;
        for (; m > lo && c < column_[m - 1]; --m) {
          column_[m] = column_[m - 1];
          entries_[m] = entries_[m - 1];
        }
        column_[m] = c;
        entries_[m] = e;
      }
      continue;
    }
    order_.resize(hi - lo);
    for (std::uint32_t k = lo; k < hi; ++k) order_[k - lo] = {column_[k], k - lo};
    std::sort(order_.begin(), order_.end());  // (column, position): a total order, so stable
    row_scratch_.assign(entries_.begin() + lo, entries_.begin() + hi);
    for (std::uint32_t k = lo; k < hi; ++k) {
      column_[k] = order_[k - lo].first;
      entries_[k] = row_scratch_[order_[k - lo].second];
    }
  }
}

void AoiIndex::query(Vec2 center, std::int64_t radius_mm, std::vector<AoiEntry>& out) const {
  const std::size_t base = out.size();
  out.resize(base + entries_.size());
  out.resize(base + query(center, radius_mm, out.data() + base));
}

}  // namespace shardsim
