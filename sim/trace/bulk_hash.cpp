#include "sim/trace/bulk_hash.h"

#include <xxhash.h>

#include "engine/core/assert.h"

namespace shardsim::sim {
namespace {

void* portable_create() {
  XXH3_state_t* s = XXH3_createState();
  SHARD_ASSERT(s != nullptr);
  XXH3_64bits_reset(s);
  return s;
}
void portable_destroy(void* s) { XXH3_freeState(static_cast<XXH3_state_t*>(s)); }
void portable_update(void* s, const void* data, std::size_t size) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(s), data, size);
}
std::uint64_t portable_digest(const void* s) {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(s));
}

}  // namespace

const BulkHash::Impl BulkHash::kPortable{portable_create, portable_destroy, portable_update,
                                         portable_digest};

BulkHash::BulkHash(Path path) {
  const Impl* fast = path == Path::best ? bulk_hash_avx2() : nullptr;
  impl_ = fast != nullptr ? fast : &kPortable;
  state_ = impl_->create();
  SHARD_ASSERT(state_ != nullptr);
}

BulkHash::~BulkHash() { impl_->destroy(state_); }

#if !defined(__x86_64__)
const BulkHash::Impl* bulk_hash_avx2() { return nullptr; }
#endif

}  // namespace shardsim::sim
