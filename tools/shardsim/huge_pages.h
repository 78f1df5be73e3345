// Backs the malloc heap with transparent huge pages, for speed.
//
// A large run touches its 15-30 MB of state (thousands of hosts, channels, views) in an order close
// to random, so with 4 KiB pages many of its cache misses are also TLB misses and pay a page walk.
// On a kernel whose THP mode is `madvise` (Debian's default) a mapping gets 2 MiB pages only if it
// asks. glibc can ask (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), but tunables are read from the
// environment before main(); this does the same from inside the process: it makes the heap grow in
// one large reservation, marks the reservation MADV_HUGEPAGE before anything touches it, and keeps
// allocations up to 32 MiB on that heap rather than in mmap()ed blocks of their own. Address space
// is reserved, not memory: pages are backed as they are first touched. ADR 0006 has the figures.
//
// A hint with no effect on results: where objects live never reaches a digest. Does nothing in
// sanitizer builds (ASan has its own allocator), off Linux or glibc, or when SHARDSIM_HUGE_PAGES=0.
// Call first thing in main(), before threads or large allocations.
#pragma once

namespace shardsim::tools {

// Marks the heap (once, first thing in main()).
void use_huge_page_heap();
// Whether use_huge_page_heap() marked it (for reports).
bool huge_page_heap();

}  // namespace shardsim::tools
