// Byte-level encoding primitives: LEB128 varints, zigzag for signed values, fixed bytes.
//
// Writer appends to a caller-owned vector (reused across messages, so encoding does not allocate in
// steady state). Reader never reads past its span: every read reports failure instead, and once a read
// fails the reader stays failed, so a decoder can check `ok()` once at the end. Malformed input —
// truncation, over-long varints, values out of range — is an ordinary outcome, never a crash.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/assert.h"

namespace shardsim::wire {

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

inline constexpr std::size_t kVarintMax = 10;

// Writes v at p, which must have room for kVarintMax bytes; returns the end of what it wrote. For
// buffers whose room is known statically (a frame header on the stack); others use Writer.
inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::uint8_t>(v);
  return p;
}

// The same, for values whose length is a coin toss to the branch predictor (the ids and position
// deltas of an AOI batch: one byte or two), where put_varint's loop test mispredicted about a tenth
// of quickstart's branches (cachegrind --branch-sim). Below 2^14 both bytes are written, the second
// within the kVarintMax room, and p advances by the length, with no branch on it. Costs more
// instructions than put_varint for values that are nearly always one byte (counts, the tick).
inline std::uint8_t* put_varint_unpredictable(std::uint8_t* p, std::uint64_t v) {
  if (v >= (std::uint64_t{1} << 14)) return put_varint(p, v);
  const std::uint64_t two = v >> 7 != 0;
  p[0] = static_cast<std::uint8_t>(v | two << 7);
  p[1] = static_cast<std::uint8_t>(v >> 7);
  return p + 1 + two;
}

// Writer reserves an upper bound of bytes up front and writes through a raw pointer (no per-byte
// capacity check); finish() — or the destructor — trims the vector to what was written.
//
// Writing more than the bound is a bug, caught by an assertion in each u8/varint/bytes. A run of
// writes of known worst-case total (the AOI batch) is better written with put_varint into room
// checked once, as encode(const AoiBatch&, std::span) does.
class Writer {
 public:
  static constexpr std::size_t kVarintMax = wire::kVarintMax;

  Writer(std::vector<std::uint8_t>& out, std::size_t max_bytes) : out_{out} {
    const std::size_t base = out.size();
    out.resize(base + max_bytes);
    p_ = out.data() + base;
    end_ = out.data() + out.size();
  }
  ~Writer() { finish(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void u8(std::uint8_t v) {
    SHARD_ASSERT(end_ - p_ >= 1);
    *p_++ = v;
  }
  void varint(std::uint64_t v) {
    SHARD_ASSERT(static_cast<std::size_t>(end_ - p_) >= kVarintMax);
    p_ = put_varint(p_, v);
  }
  void svarint(std::int64_t v) { varint(zigzag(v)); }
  void bytes(std::span<const std::uint8_t> b) {
    SHARD_ASSERT(static_cast<std::size_t>(end_ - p_) >= b.size());
    std::copy(b.begin(), b.end(), p_);
    p_ += b.size();
  }

  void finish() {
    if (p_ == nullptr) return;
    out_.resize(static_cast<std::size_t>(p_ - out_.data()));
    p_ = nullptr;
  }

 private:
  std::vector<std::uint8_t>& out_;
  std::uint8_t* p_;
  std::uint8_t* end_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_{in} {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::size_t remaining() const { return in_.size() - pos_; }
  std::size_t position() const { return pos_; }
  void fail() { ok_ = false; }

  std::uint8_t u8() {
    if (!ok_ || pos_ >= in_.size()) return fail(), 0;
    return in_[pos_++];
  }
  std::uint64_t varint() {
    if (ok_ && pos_ < in_.size() && in_[pos_] < 0x80) return in_[pos_++];  // one-byte fast path
    // Two-byte fast path (ids and position deltas mostly are): the general loop's checks, unrolled.
    if (ok_ && in_.size() - pos_ >= 2 && in_[pos_ + 1] < 0x80 && in_[pos_ + 1] != 0) {
      const std::uint64_t v = (in_[pos_] & 0x7fu) | (std::uint64_t{in_[pos_ + 1]} << 7);
      pos_ += 2;
      return v;
    }
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!ok_ || pos_ >= in_.size()) return fail(), 0;
      const std::uint8_t b = in_[pos_++];
      if (shift == 63 && b > 1) return fail(), 0;  // overflows 64 bits
      if (shift > 0 && b == 0) return fail(), 0;   // non-minimal: one value, one encoding
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return fail(), 0;  // more than 10 bytes
  }
  // A varint that must not exceed `max` (counts, enums): fails otherwise.
  std::uint64_t varint_max(std::uint64_t max) {
    const std::uint64_t v = varint();
    if (v > max) return fail(), 0;
    return v;
  }
  std::int64_t svarint() { return unzigzag(varint()); }
  // For a decoder's fast path that checks its room once for several reads: the remaining() bytes
  // from cursor() are readable, and skip(n) consumes n of them.
  const std::uint8_t* cursor() const { return in_.data() + pos_; }
  void skip(std::size_t n) {
    SHARD_ASSERT(n <= remaining());
    pos_ += n;
  }
  std::span<const std::uint8_t> rest() {
    auto r = in_.subspan(pos_);
    pos_ = in_.size();
    return r;
  }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_{0};
  bool ok_{true};
};

}  // namespace shardsim::wire
