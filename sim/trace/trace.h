// Trace: every externally visible event of a run, folded into an XXH3-64 digest.
//
// Records are appended to a fixed buffer and hashed in bulk when it fills (streaming XXH3 over 16 KiB
// chunks costs a fraction of per-record updates). The digest therefore depends on the exact sequence of
// records and their bytes — time, kind, host, three operands and, for deliveries, the payload — which is
// what "same scenario + seed + build => same digest" promises. When a JSONL sink is attached every record
// is also written as one JSON object per line (slow path; off by default).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/ids.h"
#include "engine/core/time.h"
#include "engine/core/xxh3.h"
#include "engine/runtime/env.h"

namespace shardsim::sim {

const char* trace_kind_name(TraceKind kind);

// One raw trace record, as captured for a determinism report.
struct TraceRecord {
  std::uint64_t index{0};  // 0-based position in the run's record sequence
  Time t;
  TraceKind kind{TraceKind::send};
  std::string host;
  std::uint64_t a{0}, b{0}, c{0};
  bool same_as(const TraceRecord& o) const {
    return t == o.t && kind == o.kind && host == o.host && a == o.a && b == o.b && c == o.c;
  }
  std::string describe() const;  // "t=1.234567s node-2 handover_commit hid=.. player=.. gen=.."
};

class Trace {
 public:
  Trace();
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // The hot path of every run: a bound check, five stores and a flag test, inlined at each call site
  // (~600,000 records in 10 simulated seconds of quickstart). Capture and JSONL live behind the one
  // flag slow_, out of line, so the common case carries none of their code or register pressure.
  void record(Time t, TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    if (pos_ + kRecordSize > kBufferSize) [[unlikely]] flush();
    std::uint8_t* p = buffer_.get() + pos_;
    put(p, t.us());
    put(p + 8, (static_cast<std::uint64_t>(kind) << 32) | host.value());
    put(p + 16, a);
    put(p + 24, b);
    put(p + 32, c);
    pos_ += kRecordSize;
    if (slow_) [[unlikely]] record_slow(t, kind, host, a, b, c);
    ++records_;
  }

  // Determinism reports. Checkpoints: at every bulk hash, (records so far, digest so far) — two runs
  // agree up to the first checkpoint that differs. Capture: keep records [from, to) verbatim.
  void keep_checkpoints(std::vector<std::pair<std::uint64_t, std::uint64_t>>* out) { checkpoints_ = out; }
  void capture(std::vector<TraceRecord>* out, std::uint64_t from, std::uint64_t to) {
    capture_ = out;
    capture_from_ = from;
    capture_to_ = to;
    update_slow();
  }
  void set_host_names(std::function<std::string(HostId)> host_name) { host_name_ = std::move(host_name); }
  // Folds raw bytes (a delivered payload) into the digest right after the preceding record. Inline
  // for the common small payload that fits the buffer; the rest (a flush first, or a payload too big
  // to copy) goes out of line with the exact flush points of before, which checkpoints depend on.
  void record_bytes(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > kBufferSize / 2 || bytes.size() > kBufferSize - pos_) [[unlikely]] {
      record_bytes_slow(bytes);
      return;
    }
    if (!bytes.empty()) std::memcpy(buffer_.get() + pos_, bytes.data(), bytes.size());
    pos_ += bytes.size();
  }

  // A delivery: record(t, deliver, host, from, bytes.size(), 0) then record_bytes(bytes), with one
  // bound check and one copy when both fit the buffer (every delivery in the kernel's runs); else
  // exactly those two calls, so the bytes hashed and the flush points (checkpoints) are the same.
  void record_delivery(Time t, HostId host, HostId from, std::span<const std::uint8_t> bytes) {
    if (bytes.size() > kBufferSize / 2 || pos_ + kRecordSize + bytes.size() > kBufferSize) [[unlikely]] {
      record(t, TraceKind::deliver, host, from.value(), bytes.size(), 0);
      record_bytes(bytes);
      return;
    }
    std::uint8_t* p = buffer_.get() + pos_;
    put(p, t.us());
    put(p + 8, (static_cast<std::uint64_t>(TraceKind::deliver) << 32) | host.value());
    put(p + 16, std::uint64_t{from.value()});
    put(p + 24, std::uint64_t{bytes.size()});
    put(p + 32, std::uint64_t{0});
    if (!bytes.empty()) std::memcpy(p + kRecordSize, bytes.data(), bytes.size());
    pos_ += kRecordSize + bytes.size();
    if (slow_) [[unlikely]] record_slow(t, TraceKind::deliver, host, from.value(), bytes.size(), 0);
    ++records_;
  }

  // Writes records as JSON Lines to `out` (not owned); host names come from `host_name`.
  void attach_jsonl(std::FILE* out, std::function<std::string(HostId)> host_name);

  std::uint64_t digest();  // flushes; may be called repeatedly
  std::uint64_t records() const { return records_; }
  // When false, record() only counts: used by the benchmark that measures digest overhead.
  void set_hashing(bool on) { hashing_ = on; }

 private:
  static constexpr std::size_t kRecordSize = 40;
  // 16 KiB: big enough that the per-update cost of XXH3 vanishes, small enough to stay resident in
  // L1/L2 instead of sweeping 64 KiB of cache lines (cachegrind, quickstart 10 s: 64 -> 16 KiB cuts
  // last-level misses by 9 % at equal instruction count).
  static constexpr std::size_t kBufferSize = 16 * 1024;
  static void put(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));  // little-endian, always
  }
  void put(std::uint8_t* p, std::int64_t v) { put(p, static_cast<std::uint64_t>(v)); }
  void flush();
  void update_slow() { slow_ = capture_ != nullptr || jsonl_ != nullptr; }
  // Capture and JSONL for the record about to be counted (index records_).
  [[gnu::noinline]] void record_slow(Time t, TraceKind kind, HostId host, std::uint64_t a,
                                     std::uint64_t b, std::uint64_t c);
  void record_bytes_slow(std::span<const std::uint8_t> bytes);
  void write_jsonl(Time t, TraceKind kind, HostId host, std::uint64_t a, std::uint64_t b,
                   std::uint64_t c);

  // The fields record() touches come first, together.
  std::unique_ptr<std::uint8_t[]> buffer_;  // kBufferSize bytes
  std::size_t pos_{0};
  std::uint64_t records_{0};
  bool slow_{false};  // capture_ or jsonl_ is set
  bool hashing_{true};
  xxh3::Stream hash_;  // XXH3-64 over the flushed buffers
  std::FILE* jsonl_{nullptr};
  std::function<std::string(HostId)> host_name_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>>* checkpoints_{nullptr};
  std::vector<TraceRecord>* capture_{nullptr};
  std::uint64_t capture_from_{0};
  std::uint64_t capture_to_{0};
};

}  // namespace shardsim::sim
