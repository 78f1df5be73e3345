#include "tools/shardsim/alloc_counter.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

// Sanitizer builds keep their own operator new/delete: replacing them there makes ASan report
// alloc-dealloc mismatches across shared libraries (yaml-cpp), so the counters read zero.
#ifndef SHARDSIM_SANITIZE_BUILD
namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc{};
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const std::int64_t live =
      g_live.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed) +
      static_cast<std::int64_t>(malloc_usable_size(p));
  std::int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}

void counted_free(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace shardsim::tools {

AllocStats alloc_stats() { return {g_allocations.load(), g_live.load(), g_peak.load()}; }

void reset_alloc_peak() { g_peak.store(g_live.load()); }

}  // namespace shardsim::tools

#else

namespace shardsim::tools {

AllocStats alloc_stats() { return {0, 0, 0}; }

void reset_alloc_peak() {}

}  // namespace shardsim::tools

#endif
