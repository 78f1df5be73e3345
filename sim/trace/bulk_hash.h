// BulkHash: streaming XXH3-64 over the trace's 16 KiB chunks, on the vector path that pays here.
//
// The digest is XXH3-64 of the record bytes whatever the path: XXH3's result is defined independently
// of the vector width, so every path gives the same bits (tests/sim/bulk_hash_test.cpp checks both
// against the library's one-shot XXH3_64bits, across chunk boundaries). Only the speed differs.
//
// Why not just the library: Debian's libxxhash exports XXH3_64bits_update built for baseline x86-64
// (SSE2). Its run-time dispatcher (XXH3_64bits_update_dispatch) picks AVX-512 on a CPU that has it,
// which made the run slower on our 2-core VM (cross_node 60 s: 0.90 -> 0.98 s user, median of 3
// pairs; the seeded one-shot dispatch used for auth tags, 0.90 -> 1.50 s), presumably the cost of
// AVX-512 frequency licensing and SSE/AVX-512 transitions. AVX2, compiled here from the same
// package's header (bulk_hash_avx2.cpp, the only file built with -mavx2) and chosen when the CPU
// reports it: quickstart 1.26 -> 1.24 s user, cross_node 60 s 0.86 -> 0.85 s (medians of 3
// back-to-back pairs on a quiet machine; entities_10k, which delivers fewer bytes per event, flat);
// callgrind (valgrind emulates AVX2): quickstart 10 s -2.2 %, cross_node 20 s -4.1 % instructions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shardsim::sim {

class BulkHash {
 public:
  enum class Path { best, portable };  // best: AVX2 where the CPU has it, else portable (the library)

  explicit BulkHash(Path path = Path::best);
  ~BulkHash();
  BulkHash(const BulkHash&) = delete;
  BulkHash& operator=(const BulkHash&) = delete;

  void update(const void* data, std::size_t size) { impl_->update(state_, data, size); }
  std::uint64_t digest() const { return impl_->digest(state_); }
  bool vectorized() const { return impl_ != &kPortable; }

  // One implementation of XXH3-64 streaming. The state is the implementation's own XXH3_state_t.
  struct Impl {
    void* (*create)();
    void (*destroy)(void* state);
    void (*update)(void* state, const void* data, std::size_t size);
    std::uint64_t (*digest)(const void* state);
  };

 private:
  static const Impl kPortable;
  const Impl* impl_;
  void* state_;
};

// The AVX2 implementation, or nullptr where this build has none (not x86-64) or the CPU lacks AVX2.
const BulkHash::Impl* bulk_hash_avx2();

}  // namespace shardsim::sim
