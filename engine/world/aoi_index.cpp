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

// A stable counting sort of staged_ into entries_ by key(entry) < starts.size() - 1, which leaves
// starts[k] at key k's first entry (starts.back() = n); placed(j, i) is told entry i went to j.
template <class Key, class Placed>
void AoiIndex::counting_sort(std::vector<std::uint32_t>& starts, Key&& key, Placed&& placed) {
  const std::size_t n = staged_.size();
  std::fill(starts.begin(), starts.end(), 0);
  bucket_of_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = key(staged_[i]);
    bucket_of_[i] = k;
    ++starts[k + 1];
  }
  for (std::size_t k = 1; k < starts.size(); ++k) starts[k] += starts[k - 1];
  entries_.resize(n);
  // Stable placement: walk entries in order, filling each key's range front to back.
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t j = starts[bucket_of_[i]]++;
    entries_[j] = staged_[i];
    placed(j, i);
  }
  // starts[k] now holds the end of key k's range; shift back so it is its start again.
  for (std::size_t k = starts.size() - 1; k > 0; --k) starts[k] = starts[k - 1];
  starts[0] = 0;
}

void AoiIndex::build() {
  if (!dense_) return build_sparse();
  counting_sort(
      offsets_,
      [this](const AoiEntry& e) {
        return static_cast<std::uint32_t>(bucket_y(e.pos.y) * nx_ + bucket_x(e.pos.x));
      },
      [](std::size_t, std::size_t) {});
}

// A counting sort by row (stable), then each row sorted by column, stably: the dense layout's
// order. Rows are short (a row of buckets one AOI radius high), so most are sorted in place by
// insertion; a long one (a crowd along a row) through order_, by (column, position in the row).
void AoiIndex::build_sparse() {
  column_.resize(staged_.size());
  counting_sort(
      row_start_, [this](const AoiEntry& e) { return static_cast<std::uint32_t>(bucket_y(e.pos.y)); },
      [this](std::size_t j, std::size_t i) {
        column_[j] = static_cast<std::uint32_t>(bucket_x(staged_[i].pos.x));
      });
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
