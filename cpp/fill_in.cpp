// The rank updates of a crossed design's dense fill-in, cut into chunks of the target for the
// thread pool (pool.hpp): target -= L(c, i) L(j, i)^T when the target is dense and the sources are
// sparse (the fill-in of crossed factors) or dense times sparse. Each chunk runs rank_update.cpp's
// kernel on a range of the target's columns (sparse x sparse) or rows (dense x sparse); every entry
// receives its updates in the same order as in one call over the whole target, so the result is
// bitwise that whatever the chunks and threads. Small targets go to rank_update unchanged.
#include <algorithm>
#include <cmath>

#include "engine.hpp"
#include "pool.hpp"

namespace mm {

namespace {

// Stored products per chunk below which splitting does not pay (a pool dispatch costs ~20 us;
// measured on crossed200k, whose fill-in block takes ~3.7M products).
constexpr int64_t kMinProductsPerChunk = 250000;
constexpr int kMaxChunks = 8;

double sparse_products(const SparseBlock& lc, const SparseBlock& lj, bool diagonal) {
    double w = 0.0;
    for (int col = 0; col < lc.ncollev; ++col)
        w += static_cast<double>(lc.colptr[col + 1] - lc.colptr[col]) *
             static_cast<double>(lj.colptr[col + 1] - lj.colptr[col]);
    return w * lc.kr * lj.kr * lc.kc / (diagonal ? 2.0 : 1.0);
}

}  // namespace

bool rank_update_chunked(Block& target, const Block& lc, const Block& lj, bool diagonal, int threads) {
    if (threads <= 1 || target.kind != Kind::Dense || lj.kind != Kind::Sparse) return false;
    DenseBlock& t = target.d;
    if (lc.kind == Kind::Sparse) {
        const double work = sparse_products(lc.s, lj.s, diagonal);
        const int nlev = lj.s.nrowlev;  // target column levels
        const int nchunks = std::min(pool::chunks_for(static_cast<int64_t>(work), kMinProductsPerChunk, kMaxChunks), nlev);
        if (nchunks <= 1) return false;
        // on the diagonal, column rb receives the products of rows ra >= rb: cut the columns so that
        // the chunks hold about equal triangles (area of the columns from c0 on ~ (n - c0)^2)
        pool::run(threads, nchunks, [&](int ch) {
            int c0, c1;
            if (diagonal) {
                auto edge = [&](int e) {
                    const double f = 1.0 - std::sqrt(1.0 - static_cast<double>(e) / nchunks);
                    return e == nchunks ? nlev : static_cast<int>(f * nlev);
                };
                c0 = edge(ch);
                c1 = edge(ch + 1);
            } else {
                const auto r = pool::chunk_range(nlev, nchunks, ch);
                c0 = static_cast<int>(r.first);
                c1 = static_cast<int>(r.second);
            }
            if (c0 < c1) sparse_sparse_dense(t, lc.s, lj.s, diagonal, c0, c1);
        });
        return true;
    }
    if (lc.kind != Kind::Dense || diagonal) return false;
    const double work = static_cast<double>(lj.s.v.size()) * t.nrow;
    const int rows = t.nrow;
    const int nchunks = std::min(pool::chunks_for(static_cast<int64_t>(work), kMinProductsPerChunk, kMaxChunks), rows / 4);
    if (nchunks <= 1) return false;
    pool::run(threads, nchunks, [&](int ch) {
        const auto r = pool::chunk_range(rows, nchunks, ch);
        dense_sparse(t, lc.d, lj.s, static_cast<int>(r.first), static_cast<int>(r.second));
    });
    return true;
}

}  // namespace mm
