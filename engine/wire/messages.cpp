#include "engine/wire/messages.h"

#include "engine/core/assert.h"
#include "engine/wire/buffer.h"

namespace shardsim::wire {
namespace {

bool coord_ok(std::int64_t v) { return v > -kCoordAbsMax && v < kCoordAbsMax; }

// Reads a strictly ascending id from a delta; the first delta of a list may be 0.
[[gnu::always_inline]] inline bool next_id(Reader& r, std::uint64_t& prev, bool first, EntityId& out) {
  const std::uint64_t delta = r.varint();
  if (!r.ok() || (!first && delta == 0) || __builtin_add_overflow(prev, delta, &prev)) return false;
  out = EntityId{prev};
  return true;
}

// A varint of one or two bytes at p[k], read with no bounds check (the caller checked room for
// two) and no branch: whether a varint is one byte or two is a coin toss to the branch predictor,
// and testing it was a tenth of quickstart's mispredicted branches (cachegrind --branch-sim). Reads
// one byte, or two if the first says so; whether that was a short minimal varint is for the caller
// to check (short_update). k grows by at most 2.
[[gnu::always_inline]] inline std::uint64_t short_varint(const std::uint8_t* p, std::size_t& k) {
  const std::uint64_t b0 = p[k];
  const std::uint64_t two = b0 >> 7;
  const std::uint64_t v = (b0 & 0x7f) | ((std::uint64_t{p[k + 1]} << 7) & (0 - two));
  k += 1 + two;
  return v;
}

// An update whose three varints are one or two bytes each (a move of up to 8 m per tick, and
// nearly every id delta) is at most kShortUpdate bytes: with that much left it is read with one
// bounds check, and one check of the result, instead of a branch or two per varint. Returns its
// length, or 0 if it is not short (or is malformed); the checked path then reads it. Its deltas are
// below 2^13, well within kCoordAbsMax.
constexpr std::size_t kShortUpdate = 6;
[[gnu::always_inline]] inline std::size_t short_update(const std::uint8_t* p, std::uint64_t& id_delta,
                                                       std::int64_t& dx, std::int64_t& dy) {
  std::size_t k = 0;
  id_delta = short_varint(p, k);
  const std::uint64_t zx = short_varint(p, k);
  const std::uint64_t zy = short_varint(p, k);
  // One check for all three, rarely failing, so predictable. A second byte with its high bit set
  // (a longer varint) makes a value of 2^14 or more; a second byte of 0 (non-minimal) makes a value
  // read from two bytes that fits in one. Otherwise every varint took at least the bytes its value
  // needs, so k equals the total they need only if each is minimal.
  const std::size_t need = 3 + (id_delta >= 0x80) + (zx >= 0x80) + (zy >= 0x80);
  if (((id_delta | zx | zy) >> 14) != 0 || k != need) return 0;
  dx = unzigzag(zx);
  dy = unzigzag(zy);
  return k;
}

}  // namespace

bool peek_type(std::span<const std::uint8_t> bytes, MsgType& type) {
  if (bytes.empty()) return false;
  switch (bytes[0]) {
    case 0x10: type = MsgType::join; return true;
    case 0x11: type = MsgType::move_input; return true;
    case 0x12: type = MsgType::action; return true;
    case 0x20: type = MsgType::aoi_batch; return true;
    case 0x21: type = MsgType::action_ack; return true;
    default: return false;
  }
}

void encode(const Join& m, std::vector<std::uint8_t>& out) {
  Writer w{out, 1 + 3 * Writer::kVarintMax};
  w.u8(static_cast<std::uint8_t>(MsgType::join));
  w.varint(m.player_id);
  w.svarint(m.spawn.x);
  w.svarint(m.spawn.y);
}

void encode(const MoveInput& m, std::vector<std::uint8_t>& out) {
  Writer w{out, 1 + 3 * Writer::kVarintMax};
  w.u8(static_cast<std::uint8_t>(MsgType::move_input));
  w.svarint(m.target.x);
  w.svarint(m.target.y);
  w.varint(static_cast<std::uint64_t>(m.speed_mm_s));
}

// Worst-case bytes per op: what encoded_max() adds up, so the room is checked once per batch.
constexpr std::size_t kEnterMax = 1 + 3 * kVarintMax;  // id_delta kind x y
constexpr std::size_t kUpdateMax = 3 * kVarintMax;     // id_delta dx dy
constexpr std::size_t kLeaveMax = kVarintMax;          // id_delta

namespace {
AoiBatchRef ref(const AoiBatch& m) { return {m.tick, m.enters, m.updates, m.leaves}; }
}  // namespace

std::size_t encoded_max(const AoiBatch& m) { return encoded_max(ref(m)); }

std::size_t encode(const AoiBatch& m, std::span<std::uint8_t> room) { return encode(ref(m), room); }

std::size_t encoded_max(const AoiBatchRef& m) {
  return 1 + 4 * kVarintMax + m.enters.size() * kEnterMax + m.updates.size() * kUpdateMax +
         m.leaves.size() * kLeaveMax;
}

std::size_t encode(const AoiBatchRef& m, std::span<std::uint8_t> room) {
  SHARD_ASSERT(room.size() >= encoded_max(m));  // the one room check: every write below is within it
  std::uint8_t* p = room.data();
  *p++ = static_cast<std::uint8_t>(MsgType::aoi_batch);
  p = put_varint(p, m.tick);
  std::uint64_t prev = 0;
  p = put_varint(p, m.enters.size());
  for (const auto& e : m.enters) {
    SHARD_ASSERT(e.id.value() > prev || (prev == 0 && &e == &m.enters.front()));  // ascending ids
    p = put_varint_unpredictable(p, e.id.value() - prev);
    prev = e.id.value();
    *p++ = static_cast<std::uint8_t>(e.kind);
    p = put_varint_unpredictable(p, zigzag(e.pos.x));
    p = put_varint_unpredictable(p, zigzag(e.pos.y));
  }
  prev = 0;
  p = put_varint(p, m.updates.size());
  for (const auto& u : m.updates) {
    SHARD_ASSERT(u.id.value() > prev || (prev == 0 && &u == &m.updates.front()));
    p = put_varint_unpredictable(p, u.id.value() - prev);
    prev = u.id.value();
    p = put_varint_unpredictable(p, zigzag(u.delta.x));
    p = put_varint_unpredictable(p, zigzag(u.delta.y));
  }
  prev = 0;
  p = put_varint(p, m.leaves.size());
  for (const auto& id : m.leaves) {
    SHARD_ASSERT(id.value() > prev || (prev == 0 && &id == &m.leaves.front()));
    p = put_varint_unpredictable(p, id.value() - prev);
    prev = id.value();
  }
  return static_cast<std::size_t>(p - room.data());
}

void encode(const AoiBatch& m, std::vector<std::uint8_t>& out) {
  const std::size_t base = out.size();
  out.resize(base + encoded_max(m));
  const std::size_t n = encode(m, std::span<std::uint8_t>{out}.subspan(base));
  out.resize(base + n);
}

void encode(const Action& m, std::vector<std::uint8_t>& out) {
  Writer w{out, 1 + 2 * Writer::kVarintMax};
  w.u8(static_cast<std::uint8_t>(MsgType::action));
  w.varint(m.seq);
  w.svarint(m.amount);
}

void encode(const ActionAck& m, std::vector<std::uint8_t>& out) {
  Writer w{out, 1 + Writer::kVarintMax};
  w.u8(static_cast<std::uint8_t>(MsgType::action_ack));
  w.varint(m.seq);
}

bool decode(std::span<const std::uint8_t> bytes, Action& m) {
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::action)) return false;
  m.seq = r.varint();
  m.amount = r.svarint();
  return r.ok() && r.at_end() && m.seq != 0;
}

bool decode(std::span<const std::uint8_t> bytes, ActionAck& m) {
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::action_ack)) return false;
  m.seq = r.varint();
  return r.ok() && r.at_end();
}

bool decode(std::span<const std::uint8_t> bytes, Join& m) {
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::join)) return false;
  m.player_id = r.varint();
  m.spawn.x = r.svarint();
  m.spawn.y = r.svarint();
  return r.ok() && r.at_end() && coord_ok(m.spawn.x) && coord_ok(m.spawn.y);
}

bool decode(std::span<const std::uint8_t> bytes, MoveInput& m) {
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::move_input)) return false;
  m.target.x = r.svarint();
  m.target.y = r.svarint();
  m.speed_mm_s = static_cast<std::int64_t>(r.varint_max(std::uint64_t{1} << 40));
  return r.ok() && r.at_end() && coord_ok(m.target.x) && coord_ok(m.target.y);
}

bool decode(std::span<const std::uint8_t> bytes, AoiBatch& m) {
  m.clear();
  Reader r{bytes};
  if (r.u8() != static_cast<std::uint8_t>(MsgType::aoi_batch)) return false;
  m.tick = r.varint();
  std::uint64_t prev = 0;
  const std::uint64_t n_enter = r.varint_max(kAoiOpsMax);
  if (!r.ok() || n_enter > r.remaining()) return false;  // each op needs >= 1 byte: bound allocation
  for (std::uint64_t i = 0; i < n_enter; ++i) {
    AoiEnter e;
    if (!next_id(r, prev, i == 0, e.id)) return false;
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
    std::uint64_t delta;
    std::size_t k;
    if (r.remaining() >= kShortUpdate &&
        (k = short_update(r.cursor(), delta, u.delta.x, u.delta.y)) != 0) {
      r.skip(k);
      if ((i != 0 && delta == 0) || __builtin_add_overflow(prev, delta, &prev)) return false;
      u.id = EntityId{prev};
    } else {
      if (!next_id(r, prev, i == 0, u.id)) return false;
      u.delta.x = r.svarint();
      u.delta.y = r.svarint();
      if (!r.ok() || !coord_ok(u.delta.x) || !coord_ok(u.delta.y)) return false;
    }
    m.updates.push_back(u);
  }
  prev = 0;
  const std::uint64_t n_leave = r.varint_max(kAoiOpsMax);
  if (!r.ok() || n_leave > r.remaining()) return false;
  for (std::uint64_t i = 0; i < n_leave; ++i) {
    EntityId id;
    if (!next_id(r, prev, i == 0, id)) return false;
    m.leaves.push_back(id);
  }
  return r.ok() && r.at_end();
}

}  // namespace shardsim::wire
