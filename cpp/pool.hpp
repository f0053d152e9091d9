// A small pool of worker threads for the core's large kernels (docs/design.md, section 2: the dense
// fill-in of crossed designs, the per-level work of a large factor, the pass over many rows).
//
// Determinism: a caller splits its work into chunks whose number and bounds depend only on the
// problem's size (chunks_for, chunk_range), never on the thread count; each chunk writes its own
// disjoint part of the output (or its own partial sum, reduced afterwards in chunk order). The pool
// only decides which thread runs which chunk, so the results are bitwise the same for every
// thread count, one included.
#pragma once
#include <cstdint>
#include <functional>
#include <utility>

namespace mm::pool {

// Runs body(c) for every chunk c in [0, nchunks) on at most `threads` threads, the caller's
// included (threads <= 1 or one chunk: in order on the caller's thread, no worker touched), and
// returns when all are done. If chunks throw, the exception of the lowest-numbered one is
// rethrown (the others are dropped), so the error reported does not depend on the thread count.
// Calls may nest (a chunk may call run) and may come from several threads at once.
void run(int threads, int nchunks, const std::function<void(int)>& body);

// How many chunks to cut `items` units of work into: one while items < 2 * min_items (small
// problems keep today's single-threaded path exactly), else items / min_items, at most max_chunks.
// Depends on the sizes only.
inline int chunks_for(int64_t items, int64_t min_items, int max_chunks = 64) {
    if (min_items < 1) min_items = 1;
    if (items < 2 * min_items) return 1;
    const int64_t c = items / min_items;
    return static_cast<int>(c < max_chunks ? c : max_chunks);
}

// The half-open range [begin, end) of chunk c of n items cut into nchunks near-equal chunks.
inline std::pair<int64_t, int64_t> chunk_range(int64_t n, int nchunks, int c) {
    return {n * c / nchunks, n * (c + 1) / nchunks};
}

// Worker threads started so far (grows to the largest `threads - 1` asked for; for tests).
int workers();

}  // namespace mm::pool
