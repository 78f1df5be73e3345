// engine/wire: the varint primitives and the Join / MoveInput / AoiBatch codec. Valid messages
// round-trip bit for bit; every malformed input (truncated, trailing, non-ascending, over-long,
// lying counts) is rejected without reading out of bounds or allocating in proportion to a claimed
// count; and the codec is canonical: a decoder accepts exactly one byte string per message, the one
// the encoder writes.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "engine/core/rng.h"
#include "engine/wire/buffer.h"
#include "engine/wire/messages.h"

namespace shardsim::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

template <class M>
Bytes encoded(const M& m) {
  Bytes out;
  encode(m, out);
  return out;
}

// LEB128 written out independently of wire::Writer, as the reference the codec must agree with.
Bytes varint_bytes(std::uint64_t v) {
  Bytes out;
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<std::uint8_t>(v | 0x80));
  out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::int64_t random_coord(Rng& rng) {
  // Mix small values, values around varint byte boundaries and values at the edge of the legal
  // range.
  switch (rng.below(4)) {
    case 0:
      return rng.between(-1000, 1000);
    case 1:
      return rng.between(-(std::int64_t{1} << 28), std::int64_t{1} << 28);
    case 2:
      return rng.chance_ppm(500'000) ? kCoordAbsMax - 1 - rng.between(0, 3)
                                     : -kCoordAbsMax + 1 + rng.between(0, 3);
    default:
      return rng.between(-kCoordAbsMax + 1, kCoordAbsMax - 1);
  }
}

// Strictly ascending ids, starting anywhere from 0, with gaps from 1 to huge.
std::vector<EntityId> random_ids(Rng& rng, std::size_t n) {
  std::vector<EntityId> ids;
  std::uint64_t id = rng.chance_ppm(200'000) ? 0 : rng.below(1000);
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back(EntityId{id});
    id += rng.chance_ppm(100'000) ? rng.between(1, std::int64_t{1} << 40) : rng.between(1, 300);
  }
  return ids;
}

AoiBatch random_batch(Rng& rng) {
  AoiBatch b;
  b.tick = rng.chance_ppm(100'000) ? rng.next_u64() : rng.below(1'000'000);
  for (EntityId id : random_ids(rng, rng.below(40)))
    b.enters.push_back({id,
                        rng.chance_ppm(500'000) ? EntityKind::npc : EntityKind::player,
                        {random_coord(rng), random_coord(rng)}});
  for (EntityId id : random_ids(rng, rng.below(40)))
    b.updates.push_back({id, {random_coord(rng), random_coord(rng)}});
  for (EntityId id : random_ids(rng, rng.below(40))) b.leaves.push_back(id);
  return b;
}

bool same(const AoiBatch& a, const AoiBatch& b) {
  if (a.tick != b.tick || a.enters.size() != b.enters.size() ||
      a.updates.size() != b.updates.size() || a.leaves != b.leaves)
    return false;
  for (std::size_t i = 0; i < a.enters.size(); ++i) {
    const auto& x = a.enters[i];
    const auto& y = b.enters[i];
    if (x.id != y.id || x.kind != y.kind || x.pos != y.pos) return false;
  }
  for (std::size_t i = 0; i < a.updates.size(); ++i)
    if (a.updates[i].id != b.updates[i].id || a.updates[i].delta != b.updates[i].delta)
      return false;
  return true;
}

// A tiny batch with two ops per list, for the hand-made malformed cases.
AoiBatch small_batch() {
  AoiBatch b;
  b.tick = 9;
  b.enters = {{EntityId{3}, EntityKind::player, {-5, 700}}, {EntityId{8}, EntityKind::npc, {1, 2}}};
  b.updates = {{EntityId{0}, {-1, -1}}, {EntityId{4}, {0, 300}}};
  b.leaves = {EntityId{2}, EntityId{1000}};
  return b;
}

template <class M>
void require_every_truncation_rejected(const Bytes& valid) {
  M m;
  REQUIRE(decode(valid, m));
  for (std::size_t n = 0; n < valid.size(); ++n) {
    INFO("prefix of " << n << " / " << valid.size() << " bytes");
    REQUIRE_FALSE(decode(std::span<const std::uint8_t>{valid.data(), n}, m));
  }
}

}  // namespace

// ---- primitives ---------------------------------------------------------------------------------

TEST_CASE("wire: zigzag maps signed values to unsigned and back", "[engine][wire]") {
  REQUIRE(zigzag(0) == 0);
  REQUIRE(zigzag(-1) == 1);
  REQUIRE(zigzag(1) == 2);
  REQUIRE(zigzag(-2) == 3);
  REQUIRE(zigzag(std::numeric_limits<std::int64_t>::max()) == ~std::uint64_t{1});
  REQUIRE(zigzag(std::numeric_limits<std::int64_t>::min()) == ~std::uint64_t{0});
  Rng rng{1};
  for (int i = 0; i < 10000; ++i) {
    const auto v = static_cast<std::int64_t>(rng.next_u64());
    REQUIRE(unzigzag(zigzag(v)) == v);
  }
}

TEST_CASE("wire: varints round-trip at every byte-length boundary", "[engine][wire]") {
  for (int bits = 0; bits <= 64; ++bits) {
    const std::uint64_t edge = bits == 64 ? ~0ULL : (bits == 0 ? 0 : (1ULL << bits));
    for (std::uint64_t v : {edge - 1, edge, edge + 1}) {
      const Bytes b = varint_bytes(v);
      // ceil(significant bits / 7), at least one byte.
      const int significant = v == 0 ? 1 : 64 - std::countl_zero(v);
      REQUIRE(b.size() == static_cast<std::size_t>((significant + 6) / 7));
      Reader r{b};
      REQUIRE(r.varint() == v);
      REQUIRE(r.ok());
      REQUIRE(r.at_end());
    }
  }
}

TEST_CASE("wire: a varint longer than 10 bytes is rejected", "[engine][wire]") {
  // 0 written with 10 continuation bytes and a terminator: 11 bytes.
  Bytes eleven(10, 0x80);
  eleven.push_back(0x00);
  Reader r{eleven};
  (void)r.varint();
  REQUIRE_FALSE(r.ok());

  // Ten bytes whose last one carries more than the 64th bit.
  Bytes overflow(9, 0xff);
  overflow.push_back(0x02);
  Reader r2{overflow};
  (void)r2.varint();
  REQUIRE_FALSE(r2.ok());

  // And the legal ten-byte maximum still decodes.
  Bytes max(9, 0xff);
  max.push_back(0x01);
  Reader r3{max};
  REQUIRE(r3.varint() == ~0ULL);
  REQUIRE(r3.ok());
}

TEST_CASE("wire: a non-minimal varint is rejected", "[engine][wire]") {
  // 0x80 0x00 is 0 in two bytes; 0xff 0x00 is 127 in two. The writer never produces these, so
  // accepting them would give one message two encodings (see the canonical fuzz test below).
  for (const Bytes& b : {Bytes{0x80, 0x00}, Bytes{0xff, 0x00}, Bytes{0x81, 0x80, 0x00}}) {
    Reader r{b};
    (void)r.varint();
    REQUIRE_FALSE(r.ok());
  }
}

TEST_CASE("wire: a failed reader stays failed and never reads past its span", "[engine][wire]") {
  const Bytes b{0x05};
  Reader r{b};
  REQUIRE(r.u8() == 5);
  REQUIRE(r.at_end());
  REQUIRE(r.u8() == 0);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.varint() == 0);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.remaining() == 0);

  const Bytes c{0x05, 0x06};
  Reader r2{c};
  REQUIRE(r2.varint_max(4) == 0);  // 5 > 4
  REQUIRE_FALSE(r2.ok());
  REQUIRE(r2.u8() == 0);  // stays failed although a byte remains
}

// ---- round trips --------------------------------------------------------------------------------

TEST_CASE("wire: join round-trips, including extreme ids and coordinates", "[engine][wire]") {
  Rng rng{2};
  for (int i = 0; i < 20000; ++i) {
    Join j;
    j.player_id = rng.chance_ppm(100'000) ? ~0ULL - rng.below(3) : rng.below(1u << 20);
    j.spawn = {random_coord(rng), random_coord(rng)};
    const Bytes b = encoded(j);
    MsgType type;
    REQUIRE(peek_type(b, type));
    REQUIRE(type == MsgType::join);
    Join back;
    REQUIRE(decode(b, back));
    REQUIRE(back.player_id == j.player_id);
    REQUIRE(back.spawn == j.spawn);
  }
}

TEST_CASE("wire: move input round-trips, negative targets and the speed limit included",
          "[engine][wire]") {
  Rng rng{3};
  for (int i = 0; i < 20000; ++i) {
    MoveInput m;
    m.target = {random_coord(rng), random_coord(rng)};
    m.speed_mm_s = rng.chance_ppm(100'000) ? std::int64_t{1} << 40 : rng.between(0, 20'000);
    const Bytes b = encoded(m);
    MoveInput back;
    REQUIRE(decode(b, back));
    REQUIRE(back.target == m.target);
    REQUIRE(back.speed_mm_s == m.speed_mm_s);
  }
}

TEST_CASE("wire: random aoi batches round-trip and re-encode to the same bytes", "[engine][wire]") {
  Rng rng{4};
  AoiBatch back;
  for (int i = 0; i < 3000; ++i) {
    const AoiBatch b = random_batch(rng);
    const Bytes bytes = encoded(b);
    REQUIRE(decode(bytes, back));
    REQUIRE(same(b, back));
    REQUIRE(encoded(back) == bytes);
  }
}

TEST_CASE("wire: an aoi batch encoded in place is the same bytes, within encoded_max",
          "[engine][wire]") {
  Rng rng{11};
  for (int i = 0; i < 1000; ++i) {
    const AoiBatch b = random_batch(rng);
    const std::size_t max = encoded_max(b);
    Bytes room(max + 16, 0xee);  // bytes beyond the bound must stay untouched
    const std::size_t n = encode(b, std::span<std::uint8_t>{room.data(), max});
    REQUIRE(n <= max);
    REQUIRE(Bytes(room.begin(), room.begin() + static_cast<std::ptrdiff_t>(n)) == encoded(b));
    for (std::size_t k = max; k < room.size(); ++k) REQUIRE(room[k] == 0xee);
  }
}

TEST_CASE("wire: an empty aoi batch is five bytes and round-trips", "[engine][wire]") {
  AoiBatch b;
  b.tick = 1;
  const Bytes bytes = encoded(b);
  REQUIRE(bytes == Bytes{0x20, 0x01, 0x00, 0x00, 0x00});
  AoiBatch back = small_batch();  // decode must clear whatever was there
  REQUIRE(decode(bytes, back));
  REQUIRE(back.empty());
  REQUIRE(back.tick == 1);
}

TEST_CASE("wire: aoi batch layout is ids as deltas from the previous id", "[engine][wire]") {
  // Pins the documented layout byte by byte.
  const Bytes bytes = encoded(small_batch());
  const Bytes want =
      cat({{0x20, 9},
           {2},                                                      // n_enter
           {3, 0, 9, varint_bytes(1400)[0], varint_bytes(1400)[1]},  // id 3, (-5, 700)
           {5, 1, 2, 4},                                             // id 8 = 3 + 5, npc, (1, 2)
           {2},                                                      // n_update
           {0, 1, 1},                                                // id 0, (-1, -1)
           {4, 0, varint_bytes(600)[0], varint_bytes(600)[1]},       // id 4, (0, 300)
           {2},                                                      // n_leave
           {2},                                                      // id 2
           varint_bytes(998)});                                      // id 1000
  REQUIRE(bytes == want);
}

// ---- malformed input ----------------------------------------------------------------------------

TEST_CASE("wire: every truncation of a valid encoding is rejected", "[engine][wire]") {
  require_every_truncation_rejected<Join>(
      encoded(Join{~0ULL, {-kCoordAbsMax + 1, kCoordAbsMax - 1}}));
  require_every_truncation_rejected<MoveInput>(encoded(MoveInput{{-123456789, 5}, 6000}));
  require_every_truncation_rejected<AoiBatch>(encoded(small_batch()));
  Rng rng{5};
  for (int i = 0; i < 50; ++i)
    require_every_truncation_rejected<AoiBatch>(encoded(random_batch(rng)));
}

TEST_CASE("wire: trailing bytes after a valid message are rejected", "[engine][wire]") {
  for (std::uint8_t extra : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
    Bytes j = encoded(Join{7, {1, 2}});
    j.push_back(extra);
    Join jm;
    REQUIRE_FALSE(decode(j, jm));
    Bytes m = encoded(MoveInput{{1, 2}, 3});
    m.push_back(extra);
    MoveInput mm;
    REQUIRE_FALSE(decode(m, mm));
    Bytes a = encoded(small_batch());
    a.push_back(extra);
    AoiBatch am;
    REQUIRE_FALSE(decode(a, am));
  }
}

TEST_CASE("wire: a message with the wrong type byte is rejected by every other decoder",
          "[engine][wire]") {
  Join j;
  MoveInput m;
  AoiBatch a;
  REQUIRE_FALSE(decode(encoded(MoveInput{{1, 2}, 3}), j));
  REQUIRE_FALSE(decode(encoded(Join{1, {1, 2}}), m));
  REQUIRE_FALSE(decode(encoded(Join{1, {1, 2}}), a));
  REQUIRE_FALSE(decode(encoded(small_batch()), j));
  MsgType t;
  REQUIRE_FALSE(peek_type(Bytes{}, t));
  REQUIRE_FALSE(peek_type(Bytes{0x13}, t));
  REQUIRE_FALSE(decode(Bytes{}, j));
  REQUIRE_FALSE(decode(Bytes{}, m));
  REQUIRE_FALSE(decode(Bytes{}, a));
}

TEST_CASE("wire: actions and their acks round-trip; malformed ones are rejected", "[engine][wire]") {
  Action a;
  REQUIRE(decode(encoded(Action{7, -3}), a));
  REQUIRE(a.seq == 7);
  REQUIRE(a.amount == -3);
  ActionAck k;
  REQUIRE(decode(encoded(ActionAck{42}), k));
  REQUIRE(k.seq == 42);
  REQUIRE_FALSE(decode(encoded(Action{0, 1}), a));  // seq starts at 1
  REQUIRE_FALSE(decode(Bytes{0x12, 1}, a));          // truncated
  REQUIRE_FALSE(decode(Bytes{0x21, 1, 0}, k));       // trailing byte
  REQUIRE_FALSE(decode(encoded(ActionAck{1}), a));   // wrong type
  MsgType t;
  REQUIRE(peek_type(Bytes{0x12}, t));
  REQUIRE(t == MsgType::action);
  REQUIRE(peek_type(Bytes{0x21}, t));
  REQUIRE(t == MsgType::action_ack);
}

TEST_CASE("wire: a repeated id in an aoi list is rejected", "[engine][wire]") {
  // In delta form a repeat is a delta of 0 after the first op; the first op may be id 0.
  AoiBatch m;
  // Two leaves: id 5 then delta 0 (id 5 again).
  REQUIRE_FALSE(decode(Bytes{0x20, 1, 0, 0, 2, 5, 0}, m));
  REQUIRE(decode(Bytes{0x20, 1, 0, 0, 2, 5, 1}, m));  // 5, 6 is fine
  REQUIRE(decode(Bytes{0x20, 1, 0, 0, 2, 0, 1}, m));  // 0, 1 is fine
  // Two updates with the same id.
  REQUIRE_FALSE(decode(Bytes{0x20, 1, 0, 2, 3, 0, 0, 0, 0, 0, 0}, m));
  // Two enters with the same id.
  REQUIRE_FALSE(decode(Bytes{0x20, 1, 2, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0}, m));
}

TEST_CASE("wire: an id delta that wraps past 2^64 is rejected", "[engine][wire]") {
  // Leaves: id 2^64 - 1, then a delta of 1 would wrap to 0 — a descending id.
  AoiBatch m;
  const Bytes wrap = cat({{0x20, 1, 0, 0, 2}, varint_bytes(~0ULL), {1}});
  REQUIRE_FALSE(decode(wrap, m));
  const Bytes top = cat({{0x20, 1, 0, 0, 1}, varint_bytes(~0ULL)});
  REQUIRE(decode(top, m));
  REQUIRE(m.leaves == std::vector<EntityId>{EntityId{~0ULL}});
}

// An update of one- or two-byte varints with six bytes left is read with one bounds check; these
// pin that it accepts and rejects exactly what the checked path does. Each case is followed by
// enough leaves that every update is read that way.
TEST_CASE("wire: short updates read with one bounds check decode like any other", "[engine][wire]") {
  Rng rng{11};
  AoiBatch back;
  for (int i = 0; i < 3000; ++i) {
    AoiBatch b;
    b.tick = rng.below(20'000);
    std::uint64_t id = rng.below(3) == 0 ? 0 : rng.below(20'000);
    for (std::uint64_t n = rng.below(8); n > 0; --n) {
      b.updates.push_back({EntityId{id}, {rng.between(-8191, 8191), rng.between(-8191, 8191)}});
      id += rng.chance_ppm(100'000) ? rng.between(16'384, 1 << 20) : rng.between(1, 16'383);
    }
    b.leaves = random_ids(rng, rng.below(8));
    const Bytes bytes = encoded(b);
    REQUIRE(decode(bytes, back));
    REQUIRE(same(b, back));
  }
  const Bytes leaves = {6, 1, 1, 1, 1, 1, 1};  // six leaves: ids 1..6
  AoiBatch m;
  // Two updates, ids 3 and 4, with two-byte deltas: fine.
  REQUIRE(decode(cat({{0x20, 1, 0, 2, 3, 0x81, 1, 0x82, 1, 1, 0, 0}, leaves}), m));
  REQUIRE(m.updates.size() == 2);
  REQUIRE(m.updates[1].id == EntityId{4});
  REQUIRE(m.updates[0].delta == Vec2{-65, 65});
  // The second with id delta 0: a repeat.
  REQUIRE_FALSE(decode(cat({{0x20, 1, 0, 2, 3, 0, 0, 0, 0, 0}, leaves}), m));
  // A non-minimal two-byte dx (0x81 0x00 is 1) or dy.
  REQUIRE_FALSE(decode(cat({{0x20, 1, 0, 2, 3, 0x81, 0x00, 0, 1, 0, 0}, leaves}), m));
  REQUIRE_FALSE(decode(cat({{0x20, 1, 0, 2, 3, 0, 0x81, 0x00, 1, 0, 0}, leaves}), m));
  // The first id at 2^64 - 1 (a ten-byte varint), then a short delta of 1 wraps.
  REQUIRE_FALSE(decode(cat({{0x20, 1, 0, 2}, varint_bytes(~0ULL), {0, 0, 1, 0, 0}, leaves}), m));
  REQUIRE(decode(cat({{0x20, 1, 0, 1}, varint_bytes(~0ULL), {0, 0}, leaves}), m));
  // A three-byte dx among short ones goes the checked way and decodes.
  REQUIRE(decode(cat({{0x20, 1, 0, 2, 3, 0, 0, 1}, varint_bytes(zigzag(100'000)), {0}, leaves}), m));
  REQUIRE(m.updates[1].delta == Vec2{100'000, 0});
}

namespace {

// The AOI batch decoder with every varint read the checked way (Reader::varint), as the reference
// for decode()'s short-update fast path: same checks, same order, no fast path.
bool reference_decode(std::span<const std::uint8_t> bytes, AoiBatch& m) {
  m.clear();
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::aoi_batch)) return false;
  m.tick = r.varint();
  auto next_id = [&r](std::uint64_t& prev, bool first, EntityId& out) {
    const std::uint64_t delta = r.varint();
    if (!r.ok() || (!first && delta == 0)) return false;
    if (__builtin_add_overflow(prev, delta, &prev)) return false;
    out = EntityId{prev};
    return true;
  };
  auto coord_ok = [](std::int64_t v) { return v > -kCoordAbsMax && v < kCoordAbsMax; };
  std::uint64_t prev = 0;
  const std::uint64_t n_enter = r.varint_max(kAoiOpsMax);
  if (!r.ok() || n_enter > r.remaining()) return false;
  for (std::uint64_t i = 0; i < n_enter; ++i) {
    AoiEnter e;
    if (!next_id(prev, i == 0, e.id)) return false;
    const std::uint8_t kind = r.u8();
    if (kind > 1) return false;
    e.kind = static_cast<EntityKind>(kind);
    e.pos.x = r.svarint();
    e.pos.y = r.svarint();
    if (!r.ok() || !coord_ok(e.pos.x) || !coord_ok(e.pos.y)) return false;
    m.enters.push_back(e);
  }
  prev = 0;
  const std::uint64_t n_update = r.varint_max(kAoiOpsMax);
  if (!r.ok() || n_update > r.remaining()) return false;
  for (std::uint64_t i = 0; i < n_update; ++i) {
    AoiUpdate u;
    if (!next_id(prev, i == 0, u.id)) return false;
    u.delta.x = r.svarint();
    u.delta.y = r.svarint();
    if (!r.ok() || !coord_ok(u.delta.x) || !coord_ok(u.delta.y)) return false;
    m.updates.push_back(u);
  }
  prev = 0;
  const std::uint64_t n_leave = r.varint_max(kAoiOpsMax);
  if (!r.ok() || n_leave > r.remaining()) return false;
  for (std::uint64_t i = 0; i < n_leave; ++i) {
    EntityId id;
    if (!next_id(prev, i == 0, id)) return false;
    m.leaves.push_back(id);
  }
  return r.ok() && r.at_end();
}

// A value whose varint is one, two or three bytes, often right at a byte boundary.
std::uint64_t short_ish(Rng& rng) {
  constexpr std::uint64_t kEdges[] = {0, 1, 0x7e, 0x7f, 0x80, 0x81, 0x3ffe, 0x3fff, 0x4000, 0x4001};
  if (rng.chance_ppm(300'000)) return kEdges[rng.below(std::size(kEdges))];
  return rng.chance_ppm(100'000) ? rng.below(std::uint64_t{1} << 21) : rng.below(1 << 14);
}

}  // namespace

// decode() reads updates of one- or two-byte varints by a branch-free fast path and all else by
// the checked one. On valid batches of such updates and on every kind of damage to them, it must
// accept exactly what the checked path alone accepts, and decode it the same.
TEST_CASE("wire: the short-update fast path accepts exactly what the checked path accepts",
          "[engine][wire]") {
  Rng rng{29};
  AoiBatch fast;
  AoiBatch slow;
  int accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    AoiBatch b;
    b.tick = rng.below(20'000);
    std::uint64_t id = rng.chance_ppm(300'000) ? 0 : short_ish(rng);
    for (std::uint64_t n = rng.below(10); n > 0; --n) {
      b.updates.push_back({EntityId{id}, {unzigzag(short_ish(rng)), unzigzag(short_ish(rng))}});
      id += std::max<std::uint64_t>(1, short_ish(rng));
    }
    if (rng.chance_ppm(500'000)) b.leaves = random_ids(rng, rng.below(4));
    Bytes bytes = encoded(b);
    // Damage: none, or a few bytes set to values that make varints longer, shorter, non-minimal or
    // over-long, or random ones, or a byte inserted, removed or cut off.
    const std::uint64_t damage = rng.below(6);
    for (std::uint64_t d = damage == 0 ? 0 : 1 + rng.below(3); d > 0 && bytes.size() > 1; --d) {
      const std::size_t at = 1 + rng.below(bytes.size() - 1);
      constexpr std::uint8_t kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0x81, 0xff};
      switch (damage) {
        case 1: bytes[at] = kBytes[rng.below(std::size(kBytes))]; break;
        case 2: bytes[at] = static_cast<std::uint8_t>(rng.below(256)); break;
        case 3: bytes[at] ^= 0x80; break;
        case 4:
          bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                       kBytes[rng.below(std::size(kBytes))]);
          break;
        default:
          if (rng.chance_ppm(500'000)) {
            bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at));
          } else {
            bytes.resize(at);
          }
          break;
      }
    }
    const bool want = reference_decode(bytes, slow);
    INFO("case " << i << ", damage " << damage);
    REQUIRE(decode(bytes, fast) == want);
    if (want) {
      REQUIRE(same(fast, slow));
      ++accepted;
    }
  }
  REQUIRE(accepted > 5'000);  // not only rejections
}

TEST_CASE("wire: an over-long varint inside a message is rejected", "[engine][wire]") {
  Bytes eleven(10, 0x80);
  eleven.push_back(0x00);
  Join j;
  REQUIRE_FALSE(decode(cat({{0x10}, eleven, {0, 0}}), j));
  MoveInput m;
  REQUIRE_FALSE(decode(cat({{0x11, 0, 0}, eleven}), m));
  AoiBatch a;
  REQUIRE_FALSE(decode(cat({{0x20}, eleven, {0, 0, 0}}), a));
}

TEST_CASE("wire: a non-minimal varint inside a message is rejected", "[engine][wire]") {
  // The same Join as 0x10 0x07 0x02 0x04, with player id 7 padded to two bytes.
  Join j;
  REQUIRE(decode(Bytes{0x10, 0x07, 0x02, 0x04}, j));
  REQUIRE_FALSE(decode(Bytes{0x10, 0x87, 0x00, 0x02, 0x04}, j));
  AoiBatch a;
  REQUIRE_FALSE(decode(Bytes{0x20, 0x81, 0x00, 0, 0, 0}, a));
}

TEST_CASE("wire: out-of-range fields are rejected", "[engine][wire]") {
  Join j;
  REQUIRE(decode(encoded(Join{1, {kCoordAbsMax - 1, -kCoordAbsMax + 1}}), j));
  REQUIRE_FALSE(decode(encoded(Join{1, {kCoordAbsMax, 0}}), j));
  REQUIRE_FALSE(decode(encoded(Join{1, {0, -kCoordAbsMax}}), j));
  MoveInput m;
  REQUIRE(decode(encoded(MoveInput{{0, 0}, std::int64_t{1} << 40}), m));
  REQUIRE_FALSE(decode(encoded(MoveInput{{0, 0}, (std::int64_t{1} << 40) + 1}), m));
  REQUIRE_FALSE(decode(encoded(MoveInput{{0, 0}, -1}), m));  // a negative speed has no encoding
  REQUIRE_FALSE(decode(encoded(MoveInput{{kCoordAbsMax, 0}, 1}), m));
  AoiBatch a;
  // Entity kind 2 does not exist.
  REQUIRE_FALSE(decode(Bytes{0x20, 1, 1, 3, 2, 0, 0, 0, 0}, a));
  REQUIRE(decode(Bytes{0x20, 1, 1, 3, 1, 0, 0, 0, 0}, a));
  AoiBatch far;
  far.updates = {{EntityId{1}, {kCoordAbsMax, 0}}};
  REQUIRE_FALSE(decode(encoded(far), a));
  far.updates = {{EntityId{1}, {0, -kCoordAbsMax}}};
  REQUIRE_FALSE(decode(encoded(far), a));
}

TEST_CASE(
    "wire: counts claiming more ops than there are bytes are rejected without a big allocation",
    "[engine][wire]") {
  const std::uint64_t counts[] = {3,    1000, kAoiOpsMax, kAoiOpsMax + 1, std::uint64_t{1} << 40,
                                  ~0ULL};
  for (std::uint64_t count : counts) {
    INFO("count " << count);
    for (int list = 0; list < 3; ++list) {
      Bytes b{0x20, 1};
      for (int l = 0; l < list; ++l) b.push_back(0);  // earlier lists empty
      const Bytes c = varint_bytes(count);
      b.insert(b.end(), c.begin(), c.end());
      b.insert(b.end(), {1, 0, 0, 0});  // a few bytes of ops, far fewer than claimed
      AoiBatch fresh;
      REQUIRE_FALSE(decode(b, fresh));
      // What was reserved is bounded by the input, not by the claim.
      REQUIRE(fresh.enters.capacity() <= b.size());
      REQUIRE(fresh.updates.capacity() <= b.size());
      REQUIRE(fresh.leaves.capacity() <= b.size());
    }
  }
}

TEST_CASE("wire: a batch at the op limit decodes and one op more is rejected", "[engine][wire]") {
  AoiBatch big;
  for (std::uint64_t i = 0; i < kAoiOpsMax; ++i) big.leaves.push_back(EntityId{i});
  AoiBatch back;
  REQUIRE(decode(encoded(big), back));
  REQUIRE(back.leaves.size() == kAoiOpsMax);
  big.leaves.push_back(EntityId{kAoiOpsMax});
  REQUIRE_FALSE(decode(encoded(big), back));
}

// ---- fuzz ---------------------------------------------------------------------------------------

namespace {

std::string hex(const Bytes& b) {
  std::string s;
  for (std::uint8_t x : b) s += fmt::format("{:02x} ", x);
  return s;
}

// One fuzz input: random bytes (usually behind a valid type byte), or a mutation of a valid
// encoding.
Bytes fuzz_input(Rng& rng) {
  static constexpr std::uint8_t kTypes[] = {0x10, 0x11, 0x20};
  Bytes b;
  switch (rng.below(3)) {
    case 0: {  // noise
      const auto n = rng.below(24);
      for (std::uint64_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(rng.below(256)));
      if (!b.empty() && rng.chance_ppm(900'000)) b[0] = kTypes[rng.below(3)];
      return b;
    }
    case 1: {  // small-valued noise: short varints, plausible counts and ids
      b.push_back(kTypes[rng.below(3)]);
      const auto n = rng.below(16);
      for (std::uint64_t i = 0; i < n; ++i)
        b.push_back(static_cast<std::uint8_t>(rng.chance_ppm(200'000) ? 0x80 | rng.below(128)
                                                                      : rng.below(4)));
      return b;
    }
    default: {  // a mutated valid message
      switch (rng.below(3)) {
        case 0:
          encode(Join{rng.below(300), {random_coord(rng), random_coord(rng)}}, b);
          break;
        case 1:
          encode(MoveInput{{random_coord(rng), random_coord(rng)}, rng.between(0, 9000)}, b);
          break;
        default: {
          AoiBatch batch;
          batch.tick = rng.below(1000);
          for (EntityId id : random_ids(rng, rng.below(4)))
            batch.enters.push_back({id, EntityKind::npc, {random_coord(rng), random_coord(rng)}});
          for (EntityId id : random_ids(rng, rng.below(4)))
            batch.updates.push_back({id, {rng.between(-300, 300), rng.between(-300, 300)}});
          for (EntityId id : random_ids(rng, rng.below(4))) batch.leaves.push_back(id);
          encode(batch, b);
        }
      }
      const auto mutations = 1 + rng.below(3);
      for (std::uint64_t k = 0; k < mutations && !b.empty(); ++k) {
        const auto at = rng.below(b.size());
        switch (rng.below(5)) {
          case 0:
            b[at] ^= static_cast<std::uint8_t>(1u << rng.below(8));
            break;
          case 1:
            b[at] = static_cast<std::uint8_t>(rng.below(256));
            break;
          case 2:
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at),
                     static_cast<std::uint8_t>(rng.chance_ppm(500'000) ? 0x80 : rng.below(256)));
            break;
          case 3:
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(at));
            break;
          default:
            b.resize(at);
            break;
        }
      }
      return b;
    }
  }
}

}  // namespace

TEST_CASE("wire: fuzz — 200k random inputs never crash and only canonical encodings are accepted",
          "[engine][wire][fuzz]") {
  Rng rng = Rng::stream(1, "test.wire.fuzz");
  Join join;
  MoveInput move;
  AoiBatch batch;
  Bytes again;
  int joins = 0;
  int moves = 0;
  int batches = 0;
  for (int i = 0; i < 200000; ++i) {
    const Bytes in = fuzz_input(rng);
    INFO("input #" << i << ": " << hex(in));
    MsgType type;
    const bool known = peek_type(in, type);
    if (decode(in, join)) {
      ++joins;
      REQUIRE((known && type == MsgType::join));
      again.clear();
      encode(join, again);
      REQUIRE(again == in);
    }
    if (decode(in, move)) {
      ++moves;
      REQUIRE((known && type == MsgType::move_input));
      again.clear();
      encode(move, again);
      REQUIRE(again == in);
    }
    if (decode(in, batch)) {
      ++batches;
      REQUIRE((known && type == MsgType::aoi_batch));
      for (std::size_t k = 1; k < batch.leaves.size(); ++k)
        REQUIRE(batch.leaves[k - 1] < batch.leaves[k]);
      for (std::size_t k = 1; k < batch.enters.size(); ++k)
        REQUIRE(batch.enters[k - 1].id < batch.enters[k].id);
      for (std::size_t k = 1; k < batch.updates.size(); ++k)
        REQUIRE(batch.updates[k - 1].id < batch.updates[k].id);
      again.clear();
      encode(batch, again);
      REQUIRE(again == in);
    }
  }
  // The generator must actually reach the accepting paths, or the canonical check proves nothing.
  INFO("accepted: " << joins << " joins, " << moves << " moves, " << batches << " batches");
  REQUIRE(joins > 1000);
  REQUIRE(moves > 1000);
  REQUIRE(batches > 1000);
}

}  // namespace shardsim::wire
