// target(c, j) -= L(c, i) L(j, i)^T for an earlier block column i. On the diagonal (c == j) the
// two sources are the same block and only the lower triangle of a dense target is formed.
#include <algorithm>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "small.hpp"

namespace mm {

// Columns [rb0, rb1) of the target (levels of lj's rows): t -= lc lj^T, both sparse over the same
// column factor. Each target entry receives its updates in the same order whatever the range, so the
// thread pool's column chunks (fill_in.cpp) give the bits of one call over all columns.
void sparse_sparse_dense(DenseBlock& t, const SparseBlock& lc, const SparseBlock& lj, bool diagonal, int rb0, int rb1) {
    const int kr = lc.kr, kjr = lj.kr, ki = lc.kc;
    if (kr == 1 && kjr == 1 && ki == 1) {
        // Scalar random effects (crossed intercepts), the common case:
        // t(ra, rb) -= lc(ra, col) lj(rb, col) for every column col. The target is taken in slabs of
        // whole columns that stay in cache (cache_slab_columns); per slab, each source column is
        // read once from where its lj rows enter the slab (a cursor per column: rows are sorted), and
        // its lc rows are updated against each of them.
        const int slab = cache_slab_columns(t.nrow);
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
                    // on the diagonal lc == lj and its rows are sorted: start at row rb itself
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
void dense_sparse(DenseBlock& t, const DenseBlock& d, const SparseBlock& s, int r0, int r1) {
    const int kjr = s.kr, ki = s.kc;
    if (kjr == 1 && ki == 1) {  // scalar terms: one column update per stored entry
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

namespace {

void sparse_sparse_sparse(SparseBlock& t, const SparseBlock& lc, const SparseBlock& lj) {
    const int kr = lc.kr, kjr = lj.kr, ki = lc.kc;
    for (int col = 0; col < lc.ncollev; ++col)
        for (int64_t a = lc.colptr[col]; a < lc.colptr[col + 1]; ++a)
            for (int64_t b = lj.colptr[col]; b < lj.colptr[col + 1]; ++b) {
                const int64_t idx = t.find(lc.rowlev[a], lj.rowlev[b]);  // present by analyse()
                small::sub_abt(t.blk(idx), kr, lc.blk(a), kr, lj.blk(b), kjr, kr, kjr, ki);
            }
}

void sparse_ubd(UBDBlock& t, const SparseBlock& lj) {
    const int kr = lj.kr, ki = lj.kc;
    for (int col = 0; col < lj.ncollev; ++col)
        for (int64_t a = lj.colptr[col]; a < lj.colptr[col + 1]; ++a)
            small::sub_abt(t.at(lj.rowlev[a]), kr, lj.blk(a), kr, lj.blk(a), kr, kr, kr, ki);
}

constexpr int kSmall = 16;  // at most this many rows in the target: hand-written loops

// Lower triangle of t -= a a^T for a small number of rows (BLAS threading costs more than it saves).
template <int N>
void small_syrk_n(DenseBlock& t, const DenseBlock& a) {
    const int n = N ? N : t.nrow, k = a.ncol, lda = a.nrow;
    const double* av = a.data();
    double acc[16 * 16] = {0.0};  // n <= kSmall = 16; one pass over a's columns
    for (int l = 0; l < k; ++l) {
        const double* c = av + static_cast<size_t>(l) * lda;
        for (int j = 0; j < n; ++j) {
            const double cj = c[j];
            for (int i = j; i < n; ++i) acc[i + j * 16] += c[i] * cj;
        }
    }
    for (int j = 0; j < n; ++j)
        for (int i = j; i < n; ++i) t(i, j) -= acc[i + j * 16];
}

void small_syrk(DenseBlock& t, const DenseBlock& a) {
    small::with_k(t.nrow, [&](auto N) { small_syrk_n<decltype(N)::value>(t, a); });
}

// t -= a b^T for small t.
void small_gemm_nt(DenseBlock& t, const DenseBlock& a, const DenseBlock& b) {
    const int m = t.nrow, n = t.ncol, k = a.ncol;
    for (int l = 0; l < k; ++l) {
        const double* ac = a.data() + static_cast<size_t>(l) * a.nrow;
        const double* bc = b.data() + static_cast<size_t>(l) * b.nrow;
        for (int j = 0; j < n; ++j) {
            const double bv = bc[j];
            if (bv == 0.0) continue;
            double* tc = t.data() + static_cast<size_t>(j) * m;
            for (int i = 0; i < m; ++i) tc[i] -= ac[i] * bv;
        }
    }
}


// t -= S D^T, S sparse (rows of t), D dense (t.ncol x q_i).
void sparse_dense(DenseBlock& t, const SparseBlock& s, const DenseBlock& d) {
    const int kr = s.kr, ki = s.kc;
    for (int col = 0; col < s.ncollev; ++col)
        for (int64_t a = s.colptr[col]; a < s.colptr[col + 1]; ++a)
            small::sub_abt(&t(s.rowlev[a] * kr, 0), t.nrow, s.blk(a), kr,
                           d.data() + static_cast<size_t>(col) * ki * d.nrow, d.nrow, kr, d.nrow, ki);
}

}  // namespace

void rank_update(Block& target, const Block& lc, const Block& lj, bool diagonal) {
    if (lc.kind == Kind::Sparse && lj.kind == Kind::Sparse) {
        if (target.kind == Kind::UBD) {
            sparse_ubd(target.u, lj.s);
        } else if (target.kind == Kind::Sparse) {
            sparse_sparse_sparse(target.s, lc.s, lj.s);
        } else {
            sparse_sparse_dense(target.d, lc.s, lj.s, diagonal, 0, lj.s.nrowlev);
        }
    } else if (lc.kind == Kind::Dense && lj.kind == Kind::Dense) {
        DenseBlock& t = target.d;
        if (diagonal && t.nrow <= kSmall) {
            small_syrk(t, lj.d);
        } else if (!diagonal && static_cast<int64_t>(t.nrow) * t.ncol <= kSmall * kSmall) {
            small_gemm_nt(t, lc.d, lj.d);
        } else if (diagonal) {
            blas::syrk_lower(t.nrow, lj.d.ncol, -1.0, lj.d.data(), lj.d.nrow, 1.0, t.data(), t.nrow);
        } else {
            blas::gemm(false, true, t.nrow, t.ncol, lc.d.ncol, -1.0, lc.d.data(), lc.d.nrow, lj.d.data(),
                       lj.d.nrow, 1.0, t.data(), t.nrow);
        }
    } else if (lc.kind == Kind::Dense) {
        dense_sparse(target.d, lc.d, lj.s, 0, target.d.nrow);
    } else {
        sparse_dense(target.d, lc.s, lj.d);
    }
}

}  // namespace mm
