// XXH3-64 compiled for AVX2 (this file alone is built with -mavx2; see engine/CMakeLists.txt), from
// the xxhash.h that libxxhash-dev ships, inlined with internal linkage (XXH_INLINE_ALL), so no AVX2
// code can leak into another file's inline functions. Only C headers and engine/core/xxh3.h (plain
// declarations) are included for the same reason: a C++ inline function instantiated in this file
// could be the copy the linker keeps. Its functions run only after the CPU reported AVX2
// (avx2_available(), in xxh3.cpp).
#if defined(__x86_64__)

#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include <xxhash.h>

#include "engine/core/xxh3.h"

namespace shardsim::xxh3 {
namespace {

void* avx2_create() {
  XXH3_state_t* s = XXH3_createState();
  if (s != nullptr) XXH3_64bits_reset(s);
  return s;
}
void avx2_destroy(void* s) { XXH3_freeState(static_cast<XXH3_state_t*>(s)); }
void avx2_update(void* s, const void* data, std::size_t size) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(s), data, size);
}
std::uint64_t avx2_digest(const void* s) {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(s));
}

const Stream::Impl kAvx2{avx2_create, avx2_destroy, avx2_update, avx2_digest};

}  // namespace

const Stream::Impl* avx2_stream() { return &kAvx2; }

std::uint64_t avx2_with_seed(const void* data, std::size_t size, std::uint64_t seed) {
  return XXH3_64bits_withSeed(data, size, seed);
}

}  // namespace shardsim::xxh3

#endif
