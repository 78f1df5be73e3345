#include "engine/core/xxh3.h"

#include <xxhash.h>

#include "engine/core/assert.h"

namespace shardsim::xxh3 {
namespace {

void* portable_create() {
  XXH3_state_t* s = XXH3_createState();
  if (s != nullptr) XXH3_64bits_reset(s);
  return s;
}
void portable_destroy(void* s) { XXH3_freeState(static_cast<XXH3_state_t*>(s)); }
void portable_update(void* s, const void* data, std::size_t size) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(s), data, size);
}
std::uint64_t portable_digest(const void* s) {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(s));
}

const Stream::Impl kPortable{portable_create, portable_destroy, portable_update, portable_digest};

// Decided once, before main. (Should anything hash during static initialisation, before this is set,
// it takes the portable path: the same bits.)
const bool kAvx2 = avx2_available();

}  // namespace

std::uint64_t with_seed(const void* data, std::size_t size, std::uint64_t seed) {
  // XXH3 hashes up to 240 bytes with scalar code whatever the path.
  if (size > 240 && kAvx2) return avx2_with_seed(data, size, seed);
  return XXH3_64bits_withSeed(data, size, seed);
}

Stream::Stream(Path path) {
  impl_ = path == Path::best && kAvx2 ? avx2_stream() : &kPortable;
  state_ = impl_->create();
  SHARD_ASSERT(state_ != nullptr);
}

Stream::~Stream() { impl_->destroy(state_); }

bool Stream::vectorized() const { return impl_ != &kPortable; }

#if defined(__x86_64__)
bool avx2_available() {
  __builtin_cpu_init();  // needed when called before the runtime's own constructors ran
  return __builtin_cpu_supports("avx2") != 0;
}
#else
bool avx2_available() { return false; }
const Stream::Impl* avx2_stream() { return nullptr; }
std::uint64_t avx2_with_seed(const void* data, std::size_t size, std::uint64_t seed) {
  return XXH3_64bits_withSeed(data, size, seed);
}
#endif

}  // namespace shardsim::xxh3
