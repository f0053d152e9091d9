// Factor a diagonal block of L in place and solve the blocks below it: L(c, j) <- L(c, j) L(j, j)^{-T}.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "blas.hpp"
#include "dense_potrf.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "pool.hpp"
#include "small.hpp"
#include "supernodal_potrf.hpp"

namespace mm {

namespace {
// Entries of the level blocks per chunk below which the per-level loops stay whole (a pool dispatch
// costs ~20 us; a 20,000-level factor with 3 x 3 blocks has 180,000).
constexpr int64_t kMinLevelWorkPerChunk = 32768;
}  // namespace

// [X y] block (p + 1 square, after the updates of the columns before it): factor the X^T X part,
// then the y row by hand so that an exact fit (zero residual) gives r_yy = 0 rather than a failure.
void factor_fixed_block(DenseBlock& m, int p) {
    const int info = blas::potrf_lower(p, m.data(), m.nrow);
    if (info != 0)
        throw NotPositiveDefinite("the fixed-effects model matrix is rank deficient or ill-conditioned (column " +
                                  std::to_string(info) + ")");
    std::vector<double> row(static_cast<size_t>(p));
    for (int c = 0; c < p; ++c) {  // forward substitution L_XX row = a_Xy
        double s = m(p, c);
        for (int b = 0; b < c; ++b) s -= m(c, b) * row[b];
        row[c] = s / m(c, c);
    }
    double r2 = m(p, p);
    for (int c = 0; c < p; ++c) {
        m(p, c) = row[c];
        r2 -= row[c] * row[c];
    }
    m(p, p) = std::sqrt(r2 > 0.0 ? r2 : 0.0);
}

void Engine::factor_diag(int j) {
    Block& d = L_[tri(j, j)];
    if (d.kind == Kind::UBD) {
        // levels cut into chunks; the error names the first level that fails, whatever the threads
        const int nlev = d.u.nlev;
        const int nchunks = pool::chunks_for(static_cast<int64_t>(d.u.v.size()) * d.u.k, kMinLevelWorkPerChunk);
        pool::run(threads_, nchunks, [&](int ch) {
            const auto r = pool::chunk_range(nlev, nchunks, ch);
            int bad = -1;
            small::with_k(d.u.k, [&](auto K) {
                for (int l = static_cast<int>(r.first); l < r.second; ++l)
                    if (!small::chol<decltype(K)::value>(d.u.at(l), d.u.k)) {
                        bad = l;
                        return;
                    }
            });
            if (bad >= 0)
                throw NotPositiveDefinite("random-effects block " + std::to_string(j) + ", level " +
                                          std::to_string(bad) + " is not positive definite");
        });
        return;
    }
    DenseBlock& m = d.d;
    if (j < nf_) {
        // by panels on the pool, BLAS held to one thread (Engine::single_threaded_blas); a reordered
        // factor's by its supernodes
        const int info = plan_[j].empty() ? potrf_lower_blocked(m.nrow, m.data(), m.nrow, threads_)
                                          : potrf_supernodal(plan_[j], m.data(), m.nrow, threads_);
        if (info != 0) {
            // the level of the row (0-based, as a block-diagonal block's message; the model's level), and
            // the row itself (1-based, LAPACK's; in the model's order)
            int level = (info - 1) / k_[j];
            if (!order_[j].empty()) level = order_[j][level];
            const int row = level * k_[j] + (info - 1) % k_[j] + 1;
            const std::string where = std::to_string(j) + ", level " + std::to_string(level);
            if (std::isnan(m(info - 1, info - 1)))  // entries that overflowed, not a lost pivot
                throw NotPositiveDefinite("random-effects block " + where + " is not finite (row " +
                                          std::to_string(row) +
                                          " of its dense block): its entries overflow double precision (theta or the "
                                          "data too large)");
            throw NotPositiveDefinite("random-effects block " + where + " is not positive definite (row " +
                                      std::to_string(row) + " of its dense block)");
        }
        return;
    }
    factor_fixed_block(m, p_);
}

// All blocks below diagonal block j. Below a dense diagonal block every block is dense: their rows
// are stacked and solved in one triangular solve (one pass over the triangle instead of one each).
void Engine::solve_all_below(int j) {
    const Block& d = L_[tri(j, j)];
    if (d.kind == Kind::UBD) {  // level by level: chunks of the levels of factor j, every block below
        const int nlev = d.u.nlev;
        int64_t work = 0;
        for (int c = j + 1; c <= nf_; ++c) work += static_cast<int64_t>(values(L_[tri(c, j)]).size()) * d.u.k;
        const int nchunks = pool::chunks_for(work, kMinLevelWorkPerChunk);
        pool::run(threads_, nchunks, [&](int ch) {
            const auto r = pool::chunk_range(nlev, nchunks, ch);
            for (int c = j + 1; c <= nf_; ++c) solve_below(c, j, r.first, r.second);
        });
        return;
    }
    int rows = 0;
    for (int c = j + 1; c <= nf_; ++c) rows += L_[tri(c, j)].d.nrow;
    if (rows == 0) return;  // the [X y] block: nothing below
    // stacked transposed (q x rows): X L^T = B is L X^T = B^T, the left-sided solve that BLAS
    // libraries tune for many right-hand sides (measured ~2x faster than the right-sided one here)
    const int q = d.d.nrow;
    stack_.resize(static_cast<size_t>(rows) * q);
    auto copy = [&](bool in) {
        int r0 = 0;
        for (int c = j + 1; c <= nf_; ++c) {
            DenseBlock& b = L_[tri(c, j)].d;
            for (int r = 0; r < b.nrow; ++r) {
                double* s = stack_.data() + static_cast<size_t>(r0 + r) * q;
                if (in)
                    for (int col = 0; col < q; ++col) s[col] = b(r, col);
                else
                    for (int col = 0; col < q; ++col) b(r, col) = s[col];
            }
            r0 += b.nrow;
        }
    };
    copy(true);
    blas::trsm_left_lower(q, rows, d.d.data(), q, stack_.data(), q);
    copy(false);
}

// Levels [l0, l1) of one block below a block-diagonal (UBD) diagonal block: level by level.
void Engine::solve_below(int c, int j, int64_t l0, int64_t l1) {
    const UBDBlock& d = L_[tri(j, j)].u;
    Block& b = L_[tri(c, j)];
    const int kj = d.k;
    if (b.kind == Kind::Sparse) {
        SparseBlock& s = b.s;
        for (int col = static_cast<int>(l0); col < l1; ++col) {
            const double* lv = d.at(col);
            for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx)
                small::solve_right_lt(s.blk(idx), s.kr, s.kr, lv, kj);
        }
    } else {
        DenseBlock& m = b.d;
        small::with_k(kj, [&](auto K) {
            for (int l = static_cast<int>(l0); l < l1; ++l)
                small::solve_right_lt<decltype(K)::value>(&m(0, l * kj), m.nrow, m.nrow, d.at(l), kj);
        });
    }
}

}  // namespace mm
