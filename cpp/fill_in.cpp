// The rank updates of a crossed design's dense fill-in, cut into chunks of the target for the
// thread pool (pool.hpp): target -= L(c, i) L(j, i)^T when the target is dense and the sources are
// sparse (the fill-in of crossed factors) or dense times sparse. Each chunk owns a range of the
// target's columns (sparse x sparse) or rows (dense x sparse) and every entry of the target receives
// its updates in the same order as in rank_update.cpp's single-threaded kernels, so the result is
// bitwise theirs whatever the chunks and threads. Small targets go to rank_update unchanged.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine.hpp"
#include "pool.hpp"
#include "small.hpp"

namespace mm {

namespace {

// Stored products per chunk below which splitting does not pay (a pool dispatch costs ~20 us;
// measured on crossed200k, whose fill-in block takes ~3.7M products).
constexpr int64_t kMinProductsPerChunk = 250000;
constexpr int kMaxChunks = 8;

// Columns [rb0, rb1) of t -= lc lj^T (both sparse over the same column factor).
void sparse_sparse_dense_cols(DenseBlock& t, const SparseBlock& lc, const SparseBlock& lj, bool diagonal, int rb0,
                              int rb1) {
    const int kr = lc.kr, kjr = lj.kr, ki = lc.kc;
    if (kr == 1 && kjr == 1 && ki == 1) {
        // as rank_update.cpp: slabs of whole target columns that stay in cache, a cursor per source column
        const int slab = std::max(1, static_cast<int>(65536 / std::max(1, t.nrow)));
        std::vector<int64_t> cursor(static_cast<size_t>(lj.ncollev));
        for (int col = 0; col < lj.ncollev; ++col) {
            const auto first = lj.rowlev.begin() + lj.colptr[col], last = lj.rowlev.begin() + lj.colptr[col + 1];
            cursor[col] = std::lower_bound(first, last, rb0) - lj.rowlev.begin();
        }
        for (int s0 = rb0; s0 < rb1; s0 += slab) {
            const int s1 = std::min(rb1, s0 + slab);
            for (int col = 0; col < lj.ncollev; ++col) {
                const int64_t b1 = lj.colptr[col + 1], a1 = lc.colptr[col + 1];
                int64_t b = cursor[col];
                for (; b < b1 && lj.rowlev[b] < s1; ++b) {
                    double* __restrict__ tc = &t(0, lj.rowlev[b]);
                    const double vb = lj.v[b];
                    for (int64_t a = diagonal ? b : lc.colptr[col]; a < a1; ++a) tc[lc.rowlev[a]] -= lc.v[a] * vb;
                }
                cursor[col] = b;
            }
        }
        return;
    }
    for (int col = 0; col < lc.ncollev; ++col) {
        const auto first = lj.rowlev.begin() + lj.colptr[col], last = lj.rowlev.begin() + lj.colptr[col + 1];
        const int64_t b0 = std::lower_bound(first, last, rb0) - lj.rowlev.begin();
        for (int64_t a = lc.colptr[col]; a < lc.colptr[col + 1]; ++a) {
            const int ra = lc.rowlev[a];
            for (int64_t b = b0; b < lj.colptr[col + 1]; ++b) {
                const int rb = lj.rowlev[b];
                if (rb >= rb1 || (diagonal && rb > ra)) break;
                small::sub_abt(&t(ra * kr, rb * kjr), t.nrow, lc.blk(a), kr, lj.blk(b), kjr, kr, kjr, ki);
            }
        }
    }
}

// Rows [r0, r1) of t -= D S^T, D dense (t.nrow x q_i), S sparse (rows of t's columns).
void dense_sparse_rows(DenseBlock& t, const DenseBlock& d, const SparseBlock& s, int r0, int r1) {
    const int kjr = s.kr, ki = s.kc;
    if (kjr == 1 && ki == 1) {
        for (int col = 0; col < s.ncollev; ++col) {
            const double* __restrict__ dc = d.data() + static_cast<size_t>(col) * d.nrow;
            for (int64_t b = s.colptr[col]; b < s.colptr[col + 1]; ++b) {
                double* __restrict__ tc = &t(0, s.rowlev[b]);
                const double v = s.v[b];
                for (int i = r0; i < r1; ++i) tc[i] -= dc[i] * v;
            }
        }
        return;
    }
    for (int col = 0; col < s.ncollev; ++col)
        for (int64_t b = s.colptr[col]; b < s.colptr[col + 1]; ++b)
            small::sub_abt(&t(r0, s.rowlev[b] * kjr), t.nrow, d.data() + static_cast<size_t>(col) * ki * d.nrow + r0,
                           d.nrow, s.blk(b), kjr, r1 - r0, kjr, ki);
}

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
            if (c0 < c1) sparse_sparse_dense_cols(t, lc.s, lj.s, diagonal, c0, c1);
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
        dense_sparse_rows(t, lc.d, lj.s, static_cast<int>(r.first), static_cast<int>(r.second));
    });
    return true;
}

}  // namespace mm
