// A small field-list codec for the cluster protocol (node <-> node, node <-> directory / store /
// gateway). Each message struct lists its fields once in `template <class A> void fields(A& a)`; the
// same list encodes (Enc) and decodes (Dec), so the two can never disagree.
//
// Encoding: unsigned integers as LEB128 varints, signed ones zigzag, byte strings and vectors as a
// varint length then the items. A byte string may also be a std::span: Dec then points it into the
// input instead of copying. Dec never reads out of bounds; it fails on truncation, trailing bytes,
// or a length larger than the bytes left (so a forged length cannot make it allocate).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/wire/buffer.h"

namespace shardsim::cluster {

// Enc appends to a caller-owned vector through a raw pointer into room it grows ahead (a byte at a
// time through push_back was 4.5 % of a cross_node run's instructions: the calls were not inlined).
// The vector holds slack bytes while an Enc lives; the destructor (or finish()) trims it to what was
// written, so nothing else may touch the vector until then — use bytes() for raw appends.
class Enc {
 public:
  explicit Enc(std::vector<std::uint8_t>& out) : out_{out}, base_{out.size()} { grow(kSlack); }
  ~Enc() { finish(); }
  Enc(const Enc&) = delete;
  Enc& operator=(const Enc&) = delete;

  void operator()(std::uint64_t& v) { put(v); }
  void operator()(std::uint32_t& v) { put(v); }
  void operator()(std::uint8_t& v) { byte(v); }
  void operator()(bool& v) { byte(v ? 1 : 0); }
  void operator()(std::int64_t& v) { put(wire::zigzag(v)); }
  void operator()(Vec2& v) {
    put(wire::zigzag(v.x));
    put(wire::zigzag(v.y));
  }
  void operator()(std::vector<std::uint8_t>& b) {
    put(b.size());
    bytes(b);
  }
  void operator()(std::span<const std::uint8_t>& b) {
    put(b.size());
    bytes(b);
  }
  void operator()(std::vector<std::uint64_t>& v) {
    put(v.size());
    for (auto x : v) put(x);
  }
  template <class T>
  void operator()(std::vector<T>& items) {
    put(items.size());
    for (auto& item : items) item.fields(*this);
  }
  void put(std::uint64_t v) {
    if (end_ - p_ < static_cast<std::ptrdiff_t>(wire::Writer::kVarintMax)) [[unlikely]]
      grow(wire::Writer::kVarintMax);
    while (v >= 0x80) {
      *p_++ = static_cast<std::uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<std::uint8_t>(v);
  }
  void byte(std::uint8_t v) {
    if (p_ == end_) [[unlikely]]
      grow(1);
    *p_++ = v;
  }
  // Raw bytes, no length prefix.
  void bytes(std::span<const std::uint8_t> b) {
    if (end_ - p_ < static_cast<std::ptrdiff_t>(b.size())) grow(b.size());
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  // Trims the vector to what was written; the Enc must not be used after.
  void finish() {
    if (p_ == nullptr) return;
    out_.resize(static_cast<std::size_t>(p_ - out_.data()));
    p_ = end_ = nullptr;
  }

 private:
  static constexpr std::size_t kSlack = 64;
  // Makes room for at least `n` more bytes (value-initialised once, then overwritten).
  void grow(std::size_t n) {
    const std::size_t used = p_ == nullptr ? base_ : static_cast<std::size_t>(p_ - out_.data());
    out_.resize(used + n + kSlack);  // within capacity, which the vector grows geometrically
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  std::vector<std::uint8_t>& out_;
  std::size_t base_;
  std::uint8_t* p_{nullptr};
  std::uint8_t* end_{nullptr};
};

class Dec {
 public:
  explicit Dec(std::span<const std::uint8_t> in) : r_{in} {}
  void operator()(std::uint64_t& v) { v = r_.varint(); }
  void operator()(std::uint32_t& v) { v = static_cast<std::uint32_t>(r_.varint_max(UINT32_MAX)); }
  void operator()(std::uint8_t& v) { v = r_.u8(); }
  void operator()(bool& v) {
    const std::uint8_t b = r_.u8();
    if (b > 1) r_.fail();
    v = b == 1;
  }
  void operator()(std::int64_t& v) { v = r_.svarint(); }
  void operator()(Vec2& v) {
    v.x = r_.svarint();
    v.y = r_.svarint();
  }
  void operator()(std::vector<std::uint8_t>& b) {
    const std::uint64_t n = length(1);
    b.clear();
    if (!r_.ok()) return;
    const auto rest = r_.rest();
    b.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(n));
    r_ = wire::Reader{rest.subspan(n)};
  }
  // The same encoding as a byte vector, borrowed: `b` views the input, so it lives only as long as
  // the bytes being decoded (see TunnelView).
  void operator()(std::span<const std::uint8_t>& b) {
    const std::uint64_t n = length(1);
    b = {};
    if (!r_.ok()) return;
    const auto rest = r_.rest();
    b = rest.first(n);
    r_ = wire::Reader{rest.subspan(n)};
  }
  void operator()(std::vector<std::uint64_t>& v) {
    const std::uint64_t n = length(1);
    v.clear();
    for (std::uint64_t i = 0; i < n && r_.ok(); ++i) v.push_back(r_.varint());
  }
  template <class T>
  void operator()(std::vector<T>& items) {
    const std::uint64_t n = length(1);
    items.clear();
    for (std::uint64_t i = 0; i < n && r_.ok(); ++i) items.emplace_back().fields(*this);
  }
  bool ok() const { return r_.ok(); }
  bool done() const { return r_.ok() && r_.at_end(); }

 private:
  // Every item takes at least `min_item_bytes`, so a length beyond what is left is a lie.
  std::uint64_t length(std::uint64_t min_item_bytes) {
    const std::uint64_t n = r_.varint();
    if (!r_.ok() || n > r_.remaining() / min_item_bytes) {
      r_.fail();
      return 0;
    }
    return n;
  }
  wire::Reader r_;
};

template <class M>
void encode_fields(M& m, std::vector<std::uint8_t>& out) {
  Enc e{out};
  m.fields(e);
}

template <class M>
bool decode_fields(std::span<const std::uint8_t> in, M& m) {
  Dec d{in};
  m.fields(d);
  return d.done();
}

}  // namespace shardsim::cluster
