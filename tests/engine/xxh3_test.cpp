// xxh3: every path is XXH3-64, bit for bit — neither the trace digest nor a cluster tag may depend on
// which vector path the CPU runs. Reference: the library's one-shot XXH3_64bits(_withSeed).
#include "engine/core/xxh3.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <xxhash.h>

#include "engine/core/rng.h"

namespace shardsim::xxh3 {
namespace {

// Lengths around XXH3's internal thresholds (16, 128, 240 bytes; 64-byte stripes; 1 KiB blocks; the
// 256-byte streaming buffer) and the trace's 16 KiB chunk.
const std::vector<std::size_t> kLengths{0,    1,    16,   17,    128,   129,   240,   241,  255, 256,
                                        257,  1023, 1024, 1025,  4096,  16384, 16385, 40000, 100000};

std::vector<std::uint8_t> random_bytes(Rng& rng, std::size_t n) {
  std::vector<std::uint8_t> data(n);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng.next_u64());
  return data;
}

// Feeds `data` to a Stream in the chunks `sizes` names (then the rest in one).
std::uint64_t streamed(Stream::Path path, const std::vector<std::uint8_t>& data,
                       const std::vector<std::size_t>& sizes) {
  Stream h{path};
  std::size_t at = 0;
  for (const std::size_t n : sizes) {
    const std::size_t take = std::min(n, data.size() - at);
    h.update(data.data() + at, take);
    at += take;
  }
  h.update(data.data() + at, data.size() - at);
  return h.digest();
}

TEST_CASE("xxh3: streaming on every path equals one-shot XXH3-64 across chunk boundaries",
          "[engine][xxh3]") {
  Rng rng{0xB01C};
  INFO("AVX2 on this CPU: " << avx2_available());
  REQUIRE(Stream{Stream::Path::best}.vectorized() == avx2_available());
  REQUIRE_FALSE(Stream{Stream::Path::portable}.vectorized());
  for (const std::size_t len : kLengths) {
    const auto data = random_bytes(rng, len);
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
      REQUIRE(streamed(Stream::Path::best, data, sizes) == want);
      REQUIRE(streamed(Stream::Path::portable, data, sizes) == want);
    }
  }
}

TEST_CASE("xxh3: digest reads the state without ending it", "[engine][xxh3]") {
  std::vector<std::uint8_t> data(5000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
  for (const auto path : {Stream::Path::best, Stream::Path::portable}) {
    Stream h{path};
    h.update(data.data(), 3000);
    REQUIRE(h.digest() == XXH3_64bits(data.data(), 3000));
    h.update(data.data() + 3000, 2000);
    REQUIRE(h.digest() == XXH3_64bits(data.data(), 5000));
  }
}

TEST_CASE("xxh3: seeded one-shot equals the library's, and so does the AVX2 path itself",
          "[engine][xxh3]") {
  Rng rng{0x5EED};
  for (const std::size_t len : kLengths) {
    const auto data = random_bytes(rng, len);
    for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, rng.next_u64(), ~std::uint64_t{0}}) {
      INFO("length " << len << ", seed " << seed);
      const std::uint64_t want = XXH3_64bits_withSeed(data.data(), data.size(), seed);
      REQUIRE(with_seed(data.data(), data.size(), seed) == want);
      if (avx2_available()) REQUIRE(avx2_with_seed(data.data(), data.size(), seed) == want);
    }
  }
}

}  // namespace
}  // namespace shardsim::xxh3
