// A small field-list codec for the cluster protocol (node <-> node, node <-> directory / store /
// gateway). Each message struct lists its fields once in `template <class A> void fields(A& a)`; the
// same list encodes (Enc) and decodes (Dec), so the two can never disagree.
//
// Encoding: unsigned integers as LEB128 varints, signed ones zigzag, byte strings and vectors as a
// varint length then the items. Dec never reads out of bounds; it fails on truncation, trailing bytes,
// or a length larger than the bytes left (so a forged length cannot make it allocate).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/geometry.h"
#include "engine/wire/buffer.h"

namespace shardsim::cluster {

class Enc {
 public:
  explicit Enc(std::vector<std::uint8_t>& out) : out_{out} {}
  void operator()(std::uint64_t& v) { put(v); }
  void operator()(std::uint32_t& v) { put(v); }
  void operator()(std::uint8_t& v) { out_.push_back(v); }
  void operator()(bool& v) { out_.push_back(v ? 1 : 0); }
  void operator()(std::int64_t& v) { put(wire::zigzag(v)); }
  void operator()(Vec2& v) {
    put(wire::zigzag(v.x));
    put(wire::zigzag(v.y));
  }
  void operator()(std::vector<std::uint8_t>& b) {
    put(b.size());
    out_.insert(out_.end(), b.begin(), b.end());
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
    while (v >= 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
  }

 private:
  std::vector<std::uint8_t>& out_;
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
