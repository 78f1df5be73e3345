// XXH3-64 streaming compiled for AVX2 (this file alone is built with -mavx2; see sim/CMakeLists.txt),
// from the xxhash.h that libxxhash-dev ships, inlined with internal linkage (XXH_INLINE_ALL), so no
// AVX2 code can leak into another file's inline functions. Only C headers are included here for the
// same reason: a C++ inline function instantiated in this file could be the copy the linker keeps.
// Used only after the CPU reported AVX2 (bulk_hash_avx2()).
#if defined(__x86_64__)

#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include <xxhash.h>

#include "sim/trace/bulk_hash.h"

namespace shardsim::sim {
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

const BulkHash::Impl kAvx2{avx2_create, avx2_destroy, avx2_update, avx2_digest};

}  // namespace

const BulkHash::Impl* bulk_hash_avx2() {
  return __builtin_cpu_supports("avx2") ? &kAvx2 : nullptr;
}

}  // namespace shardsim::sim

#endif
