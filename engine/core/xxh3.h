// XXH3-64, on the vector path that pays on the machine at hand.
//
// Every path computes XXH3-64 exactly: XXH3's result is defined independently of the vector width
// (tests/engine/xxh3_test.cpp checks every path against the library's one-shot XXH3_64bits, across
// chunk boundaries and seeds), so digests and auth tags are the same bits on every machine and
// build; only the speed differs. Inputs up to 240 bytes never take a vector path in XXH3, so they
// go straight to the library.
//
// Why not just the library: Debian's libxxhash (0.8.1) exports XXH3_* built for baseline x86-64
// (SSE2). Its run-time dispatcher (XXH3_*_dispatch) picks AVX-512 on a CPU that has it, and that
// made runs much slower on our 2-core Xeon VM (cross_node 60 s, user time, medians of 3 pairs:
// 0.90 -> 0.98 s with the dispatched trace digest, 0.90 -> 1.50 s with dispatched auth tags),
// presumably AVX-512 frequency licensing and SSE/AVX-512 transitions. AVX2, compiled here from the
// same package's header (xxh3_avx2.cpp, the only file built with -mavx2) and chosen when the CPU
// reports AVX2, pays — figures in docs/scaling.md ("Speed against the targets").
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardsim::xxh3 {

// Seeded one-shot XXH3-64 (the cluster's message tags).
std::uint64_t with_seed(const void* data, std::size_t size, std::uint64_t seed);

// Streaming XXH3-64 with seed 0 (the trace digest, fed 16 KiB at a time).
class Stream {
 public:
  enum class Path { best, portable };  // best: AVX2 where the CPU has it, else portable (the library)

  explicit Stream(Path path = Path::best);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void update(const void* data, std::size_t size) { impl_->update(state_, data, size); }
  std::uint64_t digest() const { return impl_->digest(state_); }
  bool vectorized() const;

  // One implementation of the streaming calls. The state is that implementation's XXH3_state_t.
  struct Impl {
    void* (*create)();
    void (*destroy)(void* state);
    void (*update)(void* state, const void* data, std::size_t size);
    std::uint64_t (*digest)(const void* state);
  };

 private:
  const Impl* impl_;
  void* state_;
};

// Whether this CPU runs AVX2 (false where the build is not for x86-64), and the AVX2 implementations
// (xxh3_avx2.cpp; elsewhere nullptr and the portable code): call those only if it does.
bool avx2_available();
const Stream::Impl* avx2_stream();
std::uint64_t avx2_with_seed(const void* data, std::size_t size, std::uint64_t seed);

}  // namespace shardsim::xxh3
