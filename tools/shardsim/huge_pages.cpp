#include "tools/shardsim/huge_pages.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__linux__) && defined(__GLIBC__) && !defined(SHARDSIM_SANITIZE_BUILD)
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>
#define SHARDSIM_HUGE_PAGES_SUPPORTED 1
#endif

namespace shardsim::tools {
namespace {
bool g_marked = false;
}

bool huge_page_heap() { return g_marked; }

void use_huge_page_heap() {
#ifdef SHARDSIM_HUGE_PAGES_SUPPORTED
  if (const char* v = std::getenv("SHARDSIM_HUGE_PAGES"); v != nullptr && std::strcmp(v, "0") == 0)
    return;
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  // Address space the heap reserves when it next grows; a run that outgrows it grows again, in
  // 4 KiB pages. Reserving costs nothing until touched (pages are backed on first touch).
  constexpr std::size_t kReserve = std::size_t{1} << 30;
  // Allocations up to 32 MiB (glibc's largest threshold) stay on the heap instead of each getting
  // an mmap() of its own, which would not be marked. The heap is never trimmed: the reservation
  // would shrink, and growing it back would not be marked either.
  if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0) return;
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TOP_PAD, static_cast<int>(kReserve));
  auto* const before = static_cast<char*>(sbrk(0));
  // Larger than anything the heap has free yet: the heap grows by it plus the pad.
  void* const probe = std::malloc(std::size_t{1} << 20);
  auto* const after = static_cast<char*>(sbrk(0));
  if (probe != nullptr && before != reinterpret_cast<char*>(-1) && after > before) {
    const auto start = (reinterpret_cast<std::uintptr_t>(before) + kHuge - 1) & ~(kHuge - 1);
    const auto end = reinterpret_cast<std::uintptr_t>(after) & ~(kHuge - 1);
    if (end > start)
      g_marked = madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) == 0;
  }
  std::free(probe);
  // Later growth (a run beyond the reservation, or every growth if the reservation failed, say
  // under `ulimit -v`) goes back to glibc's default steps.
  mallopt(M_TOP_PAD, 128 << 10);
#endif
}

}  // namespace shardsim::tools
