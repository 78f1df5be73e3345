// engine/world/aoi_index: the uniform grid must answer exactly what a brute-force scan answers —
// for points outside the bounds, on bucket edges, radius 0 and radii larger than a bucket — in an
// order that depends only on the insertion order, and a rebuild after clear() must forget the old
// entries.
#include "engine/world/aoi_index.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "engine/core/rng.h"

namespace shardsim {
namespace {

// A rectangle whose sides are not multiples of the bucket, so the last row and column are partial.
const Rect kBounds{{-5'000, -5'000}, {95'000, 45'500}};
constexpr std::int64_t kBucket = 7'000;

std::vector<std::uint64_t> ids_of(std::vector<AoiEntry> v) {
  std::vector<std::uint64_t> ids;
  for (const auto& e : v) ids.push_back(e.id.value());
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::uint64_t> brute(const std::vector<AoiEntry>& all, Vec2 c, std::int64_t r) {
  std::vector<AoiEntry> hit;
  for (const auto& e : all)
    if (dist2(e.pos, c) <= r * r) hit.push_back(e);
  return ids_of(hit);
}

// Coordinates that stress the grid: anywhere in and around the bounds, on bucket edges and +-1 of
// them, on the bounds themselves, and far outside.
std::int64_t tricky(Rng& rng, std::int64_t lo, std::int64_t hi) {
  switch (rng.below(5)) {
    case 0:
    case 1:
      return rng.between(lo, hi - 1);
    case 2:
      return lo + kBucket * rng.between(0, (hi - lo) / kBucket + 1) + rng.between(-1, 1);
    case 3:
      return rng.chance_ppm(500'000) ? lo + rng.between(-1, 0) : hi + rng.between(-1, 0);
    default:
      return rng.between(lo - 3 * kBucket, hi + 3 * kBucket);
  }
}

Vec2 tricky_point(Rng& rng) {
  return {tricky(rng, kBounds.min.x, kBounds.max.x), tricky(rng, kBounds.min.y, kBounds.max.y)};
}

std::vector<AoiEntry> random_entries(Rng& rng, std::size_t n, std::uint64_t first_id) {
  std::vector<AoiEntry> v;
  for (std::size_t i = 0; i < n; ++i) {
    const Vec2 p = rng.chance_ppm(50'000) && !v.empty()
                       ? v[rng.below(v.size())].pos  // shared spots
                       : tricky_point(rng);
    v.push_back({EntityId{first_id + i}, p,
                 rng.chance_ppm(500'000) ? wire::EntityKind::npc : wire::EntityKind::player});
  }
  return v;
}

std::int64_t random_radius(Rng& rng) {
  switch (rng.below(5)) {
    case 0:
      return 0;
    case 1:
      return kBucket;
    case 2:
      return kBucket + rng.between(-1, 1);
    case 3:
      return rng.between(1, 3 * kBucket);  // larger than a bucket: more than 3x3 buckets
    default:
      return rng.between(1, kBucket);
  }
}

AoiIndex build_index(const std::vector<AoiEntry>& entries) {
  AoiIndex index{kBounds, kBucket};
  for (const auto& e : entries) index.add(e);
  index.build();
  return index;
}

}  // namespace

TEST_CASE("aoi index: 500 queries over 2000 entries match a brute-force scan",
          "[engine][aoi_index]") {
  Rng rng = Rng::stream(1, "test.aoi_index");
  const auto entries = random_entries(rng, 2000, 1);
  const AoiIndex index = build_index(entries);
  REQUIRE(index.size() == entries.size());
  std::size_t total_hits = 0;
  std::size_t radius_zero_hits = 0;
  std::vector<AoiEntry> out;
  for (int q = 0; q < 500; ++q) {
    // Some queries centre on an entry, so radius 0 and edge cases have something to find.
    const Vec2 c =
        rng.chance_ppm(300'000) ? entries[rng.below(entries.size())].pos : tricky_point(rng);
    const std::int64_t r = random_radius(rng);
    INFO("query " << q << " at (" << c.x << ", " << c.y << ") r " << r);
    out.clear();
    index.query(c, r, out);
    const auto got = ids_of(out);
    REQUIRE(got == brute(entries, c, r));
    REQUIRE(std::adjacent_find(got.begin(), got.end()) == got.end());  // no entry twice
    // Entries come back whole: position and kind as added.
    for (const auto& e : out) {
      const auto& want = entries[e.id.value() - 1];
      REQUIRE(e.pos == want.pos);
      REQUIRE(e.kind == want.kind);
    }
    total_hits += got.size();
    if (r == 0) radius_zero_hits += got.size();
  }
  // The generator must exercise the interesting paths, not only empty results.
  REQUIRE(total_hits > 2000);
  REQUIRE(radius_zero_hits > 10);
}

TEST_CASE("aoi index: points on bucket edges are found from both sides", "[engine][aoi_index]") {
  // An entry exactly on a bucket boundary, queried from the neighbouring bucket at exact distances.
  const Vec2 edge{kBounds.min.x + 2 * kBucket, kBounds.min.y + kBucket};
  AoiIndex index{kBounds, kBucket};
  index.add({EntityId{1}, edge, wire::EntityKind::npc});
  index.add({EntityId{2}, {edge.x - 1, edge.y - 1}, wire::EntityKind::npc});
  index.build();
  std::vector<AoiEntry> out;
  index.query({edge.x - 100, edge.y}, 100, out);  // inclusive radius: exactly 100 away
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{1, 2});
  out.clear();
  index.query({edge.x - 100, edge.y}, 99, out);  // 1 mm short of entry 1; entry 2 is sqrt(99^2+1)
  REQUIRE(ids_of(out).empty());
  out.clear();
  index.query(edge, 0, out);
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{1});
  out.clear();
  index.query({edge.x - 1, edge.y - 1}, 0, out);
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{2});
}

TEST_CASE("aoi index: entries and queries outside the bounds are clamped, not lost",
          "[engine][aoi_index]") {
  AoiIndex index{kBounds, kBucket};
  const Vec2 far_left{kBounds.min.x - 50'000, 0};
  const Vec2 far_corner{kBounds.max.x + 80'000, kBounds.max.y + 80'000};
  index.add({EntityId{1}, far_left, wire::EntityKind::player});
  index.add({EntityId{2}, far_corner, wire::EntityKind::player});
  index.add({EntityId{3}, {0, 0}, wire::EntityKind::player});
  index.build();
  std::vector<AoiEntry> out;
  index.query({far_left.x + 10, 0}, 10, out);
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{1});
  out.clear();
  index.query({far_corner.x - 3, far_corner.y - 4}, 5, out);
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{2});
  out.clear();
  index.query({far_corner.x - 3, far_corner.y - 4}, 4, out);
  REQUIRE(out.empty());
}

TEST_CASE("aoi index: result order depends only on insertion order", "[engine][aoi_index]") {
  Rng rng{2};
  const auto entries = random_entries(rng, 2000, 1);
  const AoiIndex x = build_index(entries);
  const AoiIndex y = build_index(entries);
  std::vector<AoiEntry> ox;
  std::vector<AoiEntry> oy;
  for (int q = 0; q < 200; ++q) {
    const Vec2 c = tricky_point(rng);
    const std::int64_t r = random_radius(rng) + 5'000;
    ox.clear();
    oy.clear();
    x.query(c, r, ox);
    y.query(c, r, oy);
    x.query(c, r, oy);  // appends: a second identical run after the first
    REQUIRE(oy.size() == 2 * ox.size());
    for (std::size_t i = 0; i < ox.size(); ++i) {
      REQUIRE(oy[i].id == ox[i].id);
      REQUIRE(oy[ox.size() + i].id == ox[i].id);
    }
  }
  // Within one bucket, insertion order: ids 10, 5, 7 at one spot come back as 10, 5, 7.
  AoiIndex z{kBounds, kBucket};
  for (std::uint64_t id : {10u, 5u, 7u}) z.add({EntityId{id}, {100, 100}, wire::EntityKind::npc});
  z.build();
  std::vector<AoiEntry> oz;
  z.query({100, 100}, 0, oz);
  REQUIRE(oz.size() == 3);
  REQUIRE(oz[0].id == EntityId{10});
  REQUIRE(oz[1].id == EntityId{5});
  REQUIRE(oz[2].id == EntityId{7});
}

TEST_CASE("aoi index: a rebuild after clear forgets the old entries", "[engine][aoi_index]") {
  Rng rng{3};
  const auto first = random_entries(rng, 2000, 1);
  const auto second = random_entries(rng, 700, 10'001);  // fewer, so stale tails would show
  AoiIndex index = build_index(first);
  index.clear();
  for (const auto& e : second) index.add(e);
  index.build();
  REQUIRE(index.size() == second.size());
  std::vector<AoiEntry> out;
  for (int q = 0; q < 200; ++q) {
    const Vec2 c = tricky_point(rng);
    const std::int64_t r = random_radius(rng);
    out.clear();
    index.query(c, r, out);
    REQUIRE(ids_of(out) == brute(second, c, r));
  }
  // Cleared and rebuilt empty: nothing anywhere.
  index.clear();
  index.build();
  REQUIRE(index.size() == 0);
  out.clear();
  index.query({0, 0}, 1'000'000, out);
  REQUIRE(out.empty());
}

TEST_CASE("aoi index: a default-constructed index builds and answers empty",
          "[engine][aoi_index]") {
  AoiIndex index;
  index.build();
  std::vector<AoiEntry> out;
  index.query({0, 0}, 10, out);
  REQUIRE(out.empty());
  index.add({EntityId{1}, {3, 4}, wire::EntityKind::npc});
  index.build();
  index.query({0, 0}, 5, out);
  REQUIRE(ids_of(out) == std::vector<std::uint64_t>{1});
}

TEST_CASE("aoi index: keep_one_per_id keeps the most authoritative copy of each id",
          "[engine][aoi_index]") {
  // The node's ranking (WorldNode::authority_rank): real, then the ghost from the owner of the
  // cell it stands in, then any other ghost, then our in-flight copy; by node slot within a kind.
  // Here a ghost whose sender does not own its spot is marked by pos.y == 1.
  const auto entry = [](std::uint64_t id, std::int64_t x, std::uint16_t source, bool elsewhere = false) {
    return AoiEntry{EntityId{id}, {x, elsewhere ? 1 : 0}, wire::EntityKind::player, source};
  };
  const auto rank = [](const AoiEntry& e) -> std::uint32_t {
    if (e.source == kSourceInFlight) return 0x20000;
    return e.source + (e.pos.y == 1 ? 0x10000u : 0u);
  };
  // Sorted by id; the copies of an id in any order of source, as the buckets happened to give them.
  std::vector<AoiEntry> v{
      entry(1, 10, kSourceReal),
      entry(2, 20, kSourceInFlight), entry(2, 21, kSourceRemote + 3), entry(2, 22, kSourceRemote + 1),
      entry(3, 30, kSourceRemote + 0), entry(3, 31, kSourceReal),
      entry(4, 40, kSourceInFlight),
      entry(5, 50, kSourceRemote + 2), entry(5, 51, kSourceRemote + 2),  // equal sources: the first
      // A former owner's copy (node 0) loses to the current owner's (node 5), whatever the slots.
      entry(6, 60, kSourceRemote + 0, true), entry(6, 61, kSourceInFlight),
      entry(6, 62, kSourceRemote + 5),
      // ... and still beats our own in-flight copy.
      entry(7, 70, kSourceInFlight), entry(7, 71, kSourceRemote + 4, true),
  };
  const std::size_t n = keep_one_per_id(v.data(), v.size(), rank);
  REQUIRE(n == 7);
  const std::vector<std::int64_t> want_x{10, 22, 31, 40, 50, 62, 71};
  for (std::size_t i = 0; i < n; ++i) {
    INFO("entry " << i);
    REQUIRE(v[i].id == EntityId{i + 1});
    REQUIRE(v[i].pos.x == want_x[i]);
  }
  REQUIRE(keep_one_per_id(v.data(), 0, rank) == 0);
}


TEST_CASE("aoi index: a world too large for a bucket array answers as the dense layout does, in "
          "the same order",
          "[engine][aoi_index]") {
  // Same bounds and bucket, one index forced onto the sparse layout (row starts, each row sorted by
  // column, columns found by binary search): every query gives the same entries in the same order,
  // ties included. A query before the first build finds nothing in either.
  Rng rng = Rng::stream(4, "test.aoi_index.sparse");
  auto entries = random_entries(rng, 1500, 1);
  for (std::uint64_t id : {3000u, 2000u, 2500u})
    entries.push_back({EntityId{id}, {100, 100}, wire::EntityKind::npc});
  AoiIndex dense{kBounds, kBucket};
  AoiIndex sparse{kBounds, kBucket, /*dense_buckets_max=*/1};
  REQUIRE(dense.dense());
  REQUIRE_FALSE(sparse.dense());
  {
    std::vector<AoiEntry> none;
    dense.query({0, 0}, kBucket, none);
    sparse.query({0, 0}, kBucket, none);
    REQUIRE(none.empty());
  }
  // Rebuilt over fewer entries each round: rows of ~190 entries (sorted through a buffer), ~95,
  // then ~13 (sorted in place).
  for (const std::size_t stride : {1u, 2u, 15u}) {
    dense.clear();
    sparse.clear();
    for (std::size_t i = stride - 1; i < entries.size(); i += stride) {
      dense.add(entries[i]);
      sparse.add(entries[i]);
    }
    dense.build();
    sparse.build();
    REQUIRE(sparse.size() == dense.size());
    std::vector<AoiEntry> a;
    std::vector<AoiEntry> b;
    std::size_t hits = 0;
    for (int q = 0; q < 400; ++q) {
      const Vec2 c =
          rng.chance_ppm(300'000) ? entries[rng.below(entries.size())].pos : tricky_point(rng);
      const std::int64_t r = random_radius(rng);
      a.clear();
      b.clear();
      dense.query(c, r, a);
      sparse.query(c, r, b);
      REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].id == b[i].id);
        REQUIRE(a[i].pos == b[i].pos);
      }
      hits += a.size();
    }
    REQUIRE(hits > 100);
  }
  std::vector<AoiEntry> tie;
  sparse.clear();
  for (std::uint64_t id : {10u, 5u, 7u}) sparse.add({EntityId{id}, {100, 100}, wire::EntityKind::npc});
  sparse.build();
  sparse.query({100, 100}, 0, tie);
  REQUIRE(tie.size() == 3);
  REQUIRE(tie[0].id == EntityId{10});
  REQUIRE(tie[1].id == EntityId{5});
  REQUIRE(tie[2].id == EntityId{7});
}

}  // namespace shardsim
