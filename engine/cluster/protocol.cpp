#include "engine/cluster/protocol.h"


#include <array>
#include <cstring>

#include "engine/core/xxh3.h"

namespace shardsim::cluster {
namespace {
constexpr std::size_t kGhostMax = 3 * wire::kVarintMax + 1;  // id, kind, pos.x, pos.y
constexpr std::size_t kGhostMin = 4;

// Reads a varint at `p`, which must have kVarintMax bytes readable; the rules of
// wire::Reader::varint (minimal encoding, at most 64 bits). Returns the end, or nullptr if malformed.
const std::uint8_t* get_varint(const std::uint8_t* p, std::uint64_t& v) {
  std::uint64_t b = *p++;
  v = b;
  if (b < 0x80) return p;
  v &= 0x7f;
  for (int shift = 7;; shift += 7) {
    b = *p++;
    if (b == 0) return nullptr;  // non-minimal: one value, one encoding
    if (shift == 63) {
      if (b != 1) return nullptr;  // overflows 64 bits
      v |= b << 63;
      return p;
    }
    v |= (b & 0x7f) << shift;
    if (b < 0x80) return p;
  }
}

const std::uint8_t* get_ghost(const std::uint8_t* p, GhostEntry& e) {
  std::uint64_t x = 0;
  std::uint64_t y = 0;
  if ((p = get_varint(p, e.id)) == nullptr) return nullptr;
  e.kind = *p++;
  if ((p = get_varint(p, x)) == nullptr || (p = get_varint(p, y)) == nullptr) return nullptr;
  e.pos = {wire::unzigzag(x), wire::unzigzag(y)};
  return p;
}
}  // namespace

void encode_fields(Ghosts& m, std::vector<std::uint8_t>& out) {
  const std::size_t base = out.size();
  out.resize(base + 2 * wire::kVarintMax + m.entries.size() * kGhostMax);
  std::uint8_t* p = out.data() + base;
  p = wire::put_varint(p, m.tick);
  p = wire::put_varint(p, m.entries.size());
  for (const auto& e : m.entries) {
    p = wire::put_varint(p, e.id);
    *p++ = e.kind;
    p = wire::put_varint(p, wire::zigzag(e.pos.x));
    p = wire::put_varint(p, wire::zigzag(e.pos.y));
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

bool decode_fields(std::span<const std::uint8_t> in, Ghosts& m) {
  wire::Reader r{in};
  m.tick = r.varint();
  const std::uint64_t n = r.varint();
  m.entries.clear();
  if (!r.ok() || n > r.remaining() / kGhostMin) return false;  // a lying count: cannot fit
  m.entries.resize(n);
  const auto rest = r.rest();
  const std::uint8_t* p = rest.data();
  const std::uint8_t* end = p + rest.size();
  // The last entries, where fewer than kGhostMax bytes are left, are read from a zero-padded copy,
  // so that every read is in bounds; reading into the padding shows as passing `end` (or as a
  // non-minimal varint, a zero after a continuation byte).
  std::array<std::uint8_t, 2 * kGhostMax> tail{};
  bool in_tail = false;
  for (auto& e : m.entries) {
    if (!in_tail && end - p < static_cast<std::ptrdiff_t>(kGhostMax)) {
      const auto left = static_cast<std::size_t>(end - p);
      std::memcpy(tail.data(), p, left);
      p = tail.data();
      end = p + left;
      in_tail = true;
    }
    // Each entry starts at or before `end`, so it reads within kGhostMax of it: in bounds.
    if ((p = get_ghost(p, e)) == nullptr || p > end) return false;
  }
  return p == end;
}

bool decode_tunnel_batch(std::span<const std::uint8_t> body, std::vector<TunnelView>& items) {
  items.clear();
  if (body.empty()) return false;
  for (Dec d{body}; !d.done();) {
    items.emplace_back().fields(d);
    if (!d.ok()) return false;
  }
  return true;
}

std::uint64_t Auth::tag(std::span<const std::uint8_t> data, HostId sender) const {
  const std::uint64_t seed = key_ ^ (sender.value() * 0x9E3779B97F4A7C15ULL);
  return xxh3::with_seed(data.data(), data.size(), seed);
}

void Auth::append_tag(HostId sender, std::vector<std::uint8_t>& out) const {
  const std::uint64_t t = tag(out, sender);
  for (std::size_t i = 0; i < kTagBytes; ++i) out.push_back(static_cast<std::uint8_t>(t >> (8 * i)));
}

void Auth::seal_body(Msg type, std::span<const std::uint8_t> body, HostId sender,
                     std::vector<std::uint8_t>& out) const {
  out.clear();
  out.push_back(kEnvelope);
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), body.begin(), body.end());
  append_tag(sender, out);
}

void Auth::seal_in_place(Msg type, std::span<std::uint8_t> msg, HostId sender) const {
  SHARD_ASSERT(msg.size() >= 2 + kTagBytes);
  msg[0] = kEnvelope;
  msg[1] = static_cast<std::uint8_t>(type);
  const auto data = msg.first(msg.size() - kTagBytes);
  const std::uint64_t t = tag(data, sender);
  for (std::size_t i = 0; i < kTagBytes; ++i)
    msg[data.size() + i] = static_cast<std::uint8_t>(t >> (8 * i));
}

Auth::Open Auth::open(std::span<const std::uint8_t> bytes, HostId sender, Msg& type,
                      std::span<const std::uint8_t>& body) const {
  if (bytes.size() < 2 + kTagBytes || bytes[0] != kEnvelope || bytes[1] == 0 || bytes[1] > kMsgMax)
    return Open::malformed;
  const auto data = bytes.first(bytes.size() - kTagBytes);
  std::uint64_t t = 0;
  for (std::size_t i = 0; i < kTagBytes; ++i)
    t |= static_cast<std::uint64_t>(bytes[bytes.size() - kTagBytes + i]) << (8 * i);
  if (t != tag(data, sender)) return Open::bad_tag;
  type = static_cast<Msg>(bytes[1]);
  body = data.subspan(2);
  return Open::ok;
}

}  // namespace shardsim::cluster
