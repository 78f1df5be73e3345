// Trace: the run's XXH3-64 digest and its JSONL sink. The digest must be a function of the exact
// record sequence (every field, the order, delivered payloads) and nothing else: in particular not
// of where the 16 KiB hashing buffer happens to flush. The reference here is the one-shot
// XXH3_64bits of the concatenated little-endian record bytes, built independently of Trace.
#include "sim/trace/trace.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <xxhash.h>

#include "engine/core/rng.h"

namespace shardsim::sim {
namespace {

struct Rec {
  std::int64_t t;
  TraceKind kind;
  std::uint32_t host;
  std::uint64_t a;
  std::uint64_t b;
  std::uint64_t c;
  std::vector<std::uint8_t> payload;  // folded in with record_bytes after the record, if non-empty
};

void feed(Trace& trace, const std::vector<Rec>& recs) {
  for (const auto& r : recs) {
    trace.record(Time::from_micros(r.t), r.kind, HostId{r.host}, r.a, r.b, r.c);
    if (!r.payload.empty()) trace.record_bytes(r.payload);
  }
}

std::uint64_t digest_of(const std::vector<Rec>& recs) {
  Trace trace;
  feed(trace, recs);
  return trace.digest();
}

// The documented record layout, written out by hand: five little-endian u64 words
// (time, kind << 32 | host, a, b, c), then the payload bytes.
void put_le(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint64_t one_shot_digest(const std::vector<Rec>& recs) {
  std::vector<std::uint8_t> bytes;
  for (const auto& r : recs) {
    put_le(bytes, static_cast<std::uint64_t>(r.t));
    put_le(bytes, (static_cast<std::uint64_t>(r.kind) << 32) | r.host);
    put_le(bytes, r.a);
    put_le(bytes, r.b);
    put_le(bytes, r.c);
    bytes.insert(bytes.end(), r.payload.begin(), r.payload.end());
  }
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::vector<Rec> sample() {
  return {
      {0, TraceKind::host_start, 0, 0, 0, 0, {}},
      {1000, TraceKind::send, 1, 2, 17, 0, {}},
      {6000, TraceKind::deliver, 2, 1, 3, 0, {0x01, 0x02, 0x03}},
      {6000, TraceKind::tick, 2, 1, 0, 0, {}},
  };
}

// Random records with payloads of every size class: none, small, and larger than half the buffer
// (which record_bytes hashes directly instead of copying).
std::vector<Rec> random_records(std::uint64_t seed, int n) {
  Rng rng{seed};
  const TraceKind kinds[] = {TraceKind::send, TraceKind::deliver, TraceKind::timer, TraceKind::tick,
                             TraceKind::handover_local};
  std::vector<Rec> recs;
  std::int64_t t = 0;
  for (int i = 0; i < n; ++i) {
    Rec r{t += static_cast<std::int64_t>(rng.below(1000)),
          kinds[rng.below(5)],
          static_cast<std::uint32_t>(rng.below(64)),
          rng.next_u64(),
          rng.next_u64(),
          rng.next_u64(),
          {}};
    const auto size_class = rng.below(100);
    std::size_t size = 0;
    if (size_class < 30) size = rng.below(200);
    if (size_class == 99) size = 32 * 1024 + rng.below(40'000);
    for (std::size_t k = 0; k < size; ++k)
      r.payload.push_back(static_cast<std::uint8_t>(rng.next_u64()));
    recs.push_back(std::move(r));
  }
  return recs;
}

std::vector<std::string> read_lines(std::FILE* f) {
  std::rewind(f);
  std::vector<std::string> lines;
  std::string line;
  for (int ch = std::fgetc(f); ch != EOF; ch = std::fgetc(f)) {
    if (ch == '\n') {
      lines.push_back(line);
      line.clear();
    } else {
      line.push_back(static_cast<char>(ch));
    }
  }
  REQUIRE(line.empty());  // every line ends with a newline
  return lines;
}

}  // namespace

TEST_CASE("trace: the same records give the same digest", "[sim][trace]") {
  REQUIRE(digest_of(sample()) == digest_of(sample()));
  REQUIRE(digest_of(sample()) == one_shot_digest(sample()));
  const auto big = random_records(5, 3000);
  REQUIRE(digest_of(big) == digest_of(big));
}

TEST_CASE("trace: changing any one field or the order changes the digest", "[sim][trace]") {
  const std::uint64_t base = digest_of(sample());
  std::vector<std::uint64_t> variants;
  for (int field = 0; field < 7; ++field) {
    auto recs = sample();
    Rec& r = recs[1];
    switch (field) {
      case 0:
        r.t += 1;
        break;
      case 1:
        r.kind = TraceKind::drop;
        break;
      case 2:
        r.host += 1;
        break;
      case 3:
        r.a ^= 1;
        break;
      case 4:
        r.b ^= std::uint64_t{1} << 63;
        break;
      case 5:
        r.c += 1;
        break;
      case 6:
        std::swap(recs[0], recs[1]);
        break;
    }
    INFO("variant " << field);
    variants.push_back(digest_of(recs));
    REQUIRE(variants.back() != base);
  }
  // And the variants differ from each other: no two edits collide into the same stream.
  std::sort(variants.begin(), variants.end());
  REQUIRE(std::adjacent_find(variants.begin(), variants.end()) == variants.end());
}

TEST_CASE("trace: delivered payload bytes participate in the digest", "[sim][trace]") {
  const std::uint64_t base = digest_of(sample());
  auto changed = sample();
  changed[2].payload[1] = 0x22;
  REQUIRE(digest_of(changed) != base);
  auto without = sample();
  without[2].payload.clear();
  REQUIRE(digest_of(without) != base);
  auto longer = sample();
  longer[2].payload.push_back(0x04);
  REQUIRE(digest_of(longer) != base);

  // Payload bytes are counted in the digest, not as records.
  Trace trace;
  feed(trace, sample());
  REQUIRE(trace.records() == 4);
}

TEST_CASE("trace: bulk hashing across many 16 KiB buffers equals one-shot hashing",
          "[sim][trace]") {
  // 6000 records of 40 bytes plus payloads: well over 16 KiB, so the buffer flushes many times, at
  // record boundaries that do not divide 16 KiB, and around payloads copied or hashed directly
  // (those over half the buffer).
  const auto recs = random_records(99, 6000);
  std::size_t total = 0;
  std::size_t big_payloads = 0;
  for (const auto& r : recs) {
    total += 40 + r.payload.size();
    big_payloads += r.payload.size() > 8 * 1024;
  }
  REQUIRE(total > 4 * 16 * 1024);
  REQUIRE(big_payloads > 0);
  REQUIRE(digest_of(recs) == one_shot_digest(recs));

  // Exactly at the flush boundary: 409 records fill 16360 bytes; the 410th forces a flush.
  for (int n : {408, 409, 410, 411, 818, 819}) {
    INFO(n << " records");
    std::vector<Rec> plain;
    for (int i = 0; i < n; ++i)
      plain.push_back(Rec{i, TraceKind::timer, 3, static_cast<std::uint64_t>(i), 0, 0, {}});
    REQUIRE(digest_of(plain) == one_shot_digest(plain));
  }
}

TEST_CASE("trace: record_delivery equals record then record_bytes, checkpoints included",
          "[sim][trace]") {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto recs = random_records(seed, 3000);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> split_points;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> fused_points;
    Trace split;
    Trace fused;
    split.keep_checkpoints(&split_points);
    fused.keep_checkpoints(&fused_points);
    for (const auto& r : recs) {
      const Time t = Time::from_micros(r.t);
      split.record(t, TraceKind::deliver, HostId{r.host}, r.a & 0xffff'ffff, r.payload.size(), 0);
      split.record_bytes(r.payload);
      fused.record_delivery(t, HostId{r.host}, HostId{static_cast<std::uint32_t>(r.a)}, r.payload);
    }
    REQUIRE(split.digest() == fused.digest());
    REQUIRE(split_points == fused_points);
    REQUIRE(split.records() == fused.records());
  }
}

TEST_CASE("trace: digest() may be called mid-run and the stream carries on", "[sim][trace]") {
  const auto recs = random_records(7, 4000);
  const std::vector<Rec> first(recs.begin(), recs.begin() + 2500);
  Trace trace;
  feed(trace, first);
  const std::uint64_t mid = trace.digest();
  REQUIRE(mid == one_shot_digest(first));
  REQUIRE(trace.digest() == mid);  // repeatable
  feed(trace, std::vector<Rec>(recs.begin() + 2500, recs.end()));
  REQUIRE(trace.digest() == one_shot_digest(recs));
  REQUIRE(trace.records() == 4000);
}

TEST_CASE("trace: set_hashing(false) changes the digest and nothing else", "[sim][trace]") {
  const auto recs = random_records(11, 2500);
  auto run = [&](bool hashing) {
    std::FILE* out = std::tmpfile();
    REQUIRE(out != nullptr);
    Trace trace;
    trace.set_hashing(hashing);
    trace.attach_jsonl(out, [](HostId h) { return "h" + std::to_string(h.value()); });
    feed(trace, recs);
    const auto result = std::tuple{trace.digest(), trace.records(), read_lines(out)};
    std::fclose(out);
    return result;
  };
  const auto [on_digest, on_records, on_lines] = run(true);
  const auto [off_digest, off_records, off_lines] = run(false);
  REQUIRE(on_digest == one_shot_digest(recs));
  REQUIRE(off_digest != on_digest);
  REQUIRE(off_digest == XXH3_64bits(nullptr, 0));  // nothing was hashed
  REQUIRE(off_records == on_records);
  REQUIRE(off_records == recs.size());
  REQUIRE(off_lines == on_lines);
  REQUIRE(on_lines.size() == recs.size());
}

TEST_CASE("trace: each JSONL line names the record's fields", "[sim][trace]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  Trace trace;
  const char* names[] = {"node-1", "client-1", "client-2"};
  trace.attach_jsonl(out, [&](HostId h) {
    return h.value() < 3 ? std::string{names[h.value()]} : "host-" + std::to_string(h.value());
  });
  trace.record(Time::from_micros(1), TraceKind::send, HostId{1}, 0, 17, 0);
  trace.record(Time::from_micros(2), TraceKind::deliver, HostId{0}, 2, 3, 0);
  trace.record(Time::from_micros(3), TraceKind::handover_local, HostId{0}, 7, 5, 6);
  trace.record(Time::from_micros(4), TraceKind::drop, HostId{2}, 9, 40, 1);
  trace.record(Time::from_micros(5), static_cast<TraceKind>(999), HostId{1}, 1, 2, 3);
  trace.record_bytes(std::vector<std::uint8_t>{1, 2, 3});  // payloads are not written as lines
  const auto lines = read_lines(out);
  std::fclose(out);
  const std::vector<std::string> expected = {
      R"({"t_us":1,"kind":"send","host":"client-1","to":"node-1","bytes":17})",
      R"({"t_us":2,"kind":"deliver","host":"node-1","from":"client-2","bytes":3})",
      R"({"t_us":3,"kind":"handover_local","host":"node-1","entity":7,"source_cell":5,"target_cell":6})",
      R"({"t_us":4,"kind":"drop","host":"client-2","peer":"host-9","bytes":40,"host_down":1})",
      R"({"t_us":5,"kind":"unknown","host":"client-1","a":1,"b":2,"c":3})",
  };
  CHECK(lines == expected);
}

TEST_CASE("trace: without a host-name function JSONL names hosts by number", "[sim][trace]") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  Trace trace;
  trace.attach_jsonl(out, {});
  trace.record(Time::from_micros(5), TraceKind::timer, HostId{12}, 1, 2, 3);
  const auto lines = read_lines(out);
  std::fclose(out);
  REQUIRE(lines ==
          std::vector<std::string>{R"({"t_us":5,"kind":"timer","host":"12","tag":1})"});
}

}  // namespace shardsim::sim
