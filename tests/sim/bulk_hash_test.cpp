// BulkHash: every path is XXH3-64, bit for bit — the trace digest may not depend on which vector
// path the CPU runs. Reference: the library's one-shot XXH3_64bits over the concatenated input.
#include "sim/trace/bulk_hash.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <xxhash.h>

#include "engine/core/rng.h"

namespace shardsim::sim {
namespace {

// Feeds `data` to a BulkHash in the chunks `sizes` names (the last chunk takes the rest).
std::uint64_t streamed(BulkHash::Path path, const std::vector<std::uint8_t>& data,
                       const std::vector<std::size_t>& sizes) {
  BulkHash h{path};
  std::size_t at = 0;
  for (const std::size_t n : sizes) {
    const std::size_t take = std::min(n, data.size() - at);
    h.update(data.data() + at, take);
    at += take;
  }
  h.update(data.data() + at, data.size() - at);
  return h.digest();
}

TEST_CASE("bulk hash: every path equals one-shot XXH3-64 across chunk boundaries", "[sim][trace]") {
  Rng rng{0xB01C};
  // Lengths around XXH3's internal thresholds (16, 128, 240 bytes; 64-byte stripes; 1 KiB blocks;
  // the 256-byte streaming buffer) and the trace's 16 KiB chunk.
  const std::vector<std::size_t> lengths{0,    1,    16,   17,   128,  129,   240,   241,  255,
                                         256,  257,  1023, 1024, 1025, 4096,  16384, 16385,
                                         40000, 100000};
  const BulkHash best{BulkHash::Path::best};
  INFO("vectorized path on this CPU: " << best.vectorized());
  for (const std::size_t len : lengths) {
    std::vector<std::uint8_t> data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng.next_u64());
    const std::uint64_t want = XXH3_64bits(data.data(), data.size());
    for (int split = 0; split < 8; ++split) {
      std::vector<std::size_t> sizes;
      if (split == 1) sizes.assign(len, 1);  // a byte at a time
      if (split >= 2)
        for (std::size_t left = len; left > 0;) {
          const std::size_t n = 1 + rng.next_u64() % (split == 2 ? 300 : 20000);
          sizes.push_back(n);
          left -= std::min(n, left);
        }
      INFO("length " << len << ", split " << split);
      REQUIRE(streamed(BulkHash::Path::best, data, sizes) == want);
      REQUIRE(streamed(BulkHash::Path::portable, data, sizes) == want);
    }
  }
}

TEST_CASE("bulk hash: digest reads the state without ending it", "[sim][trace]") {
  std::vector<std::uint8_t> data(5000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  for (const auto path : {BulkHash::Path::best, BulkHash::Path::portable}) {
    BulkHash h{path};
    h.update(data.data(), 3000);
    REQUIRE(h.digest() == XXH3_64bits(data.data(), 3000));
    h.update(data.data() + 3000, 2000);
    REQUIRE(h.digest() == XXH3_64bits(data.data(), 5000));
  }
}

}  // namespace
}  // namespace shardsim::sim
