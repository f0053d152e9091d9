// The Cholesky factor of a random-effects dense diagonal block (dense_potrf.hpp). Right-looking by
// panels of kPanel columns: LAPACK on the panel's diagonal block (on every panel, the last one too
// however short: the small kernel blas::potrf_lower takes for 32 columns or fewer fails on a NaN
// that LAPACK passes), then the triangular solve below it and the symmetric update of the trailing
// matrix. On the pool the solve is cut into chunks of kRows rows and the update into chunks of
// kColumns columns (a syrk on the chunk's diagonal part and one gemm below it), fixed by the order
// alone, so the factor is bitwise the same for every thread count, one included.
#include "dense_potrf.hpp"

#include <algorithm>
#include <cstddef>

#include "blas.hpp"
#include "pool.hpp"

namespace mm {

namespace {
constexpr int kPooledFrom = 256;  // from this order on, by panels on the pool
constexpr int kPanel = 128;
constexpr int kRows = 128;
constexpr int kColumns = 64;
constexpr double kPooledUpdate = 2e6;  // a supernode's update of this many multiply-adds or more: on the pool

// B = B L^{-T} in chunks of kRows rows, then C = beta C + alpha B B' in chunks of kColumns columns
// (a syrk on each chunk's diagonal part and one gemm below it), on the pool: the chunks are fixed by
// the sizes alone, so the result is bitwise the same for every thread count
void solve_and_update_chunked(int m, int w, const double* l, int ldl, double* b, int ldb, double alpha, double beta,
                              double* c, int ldc, int threads) {
    const size_t lc = static_cast<size_t>(ldc);
    const int row_chunks = (m + kRows - 1) / kRows;
    pool::run(threads, row_chunks, [&](int ch) {
        const int r0 = ch * kRows, r1 = std::min(m, r0 + kRows);
        blas::trsm_right_lower_trans(r1 - r0, w, l, ldl, b + r0, ldb);
    });
    // the leftmost chunks hold the most rows: claimed first, so the last ones fill the gaps
    const int column_chunks = (m + kColumns - 1) / kColumns;
    pool::run(threads, column_chunks, [&](int ch) {
        const int c0 = ch * kColumns, c1 = std::min(m, c0 + kColumns);
        double* t = c + static_cast<size_t>(c0) * lc;
        blas::syrk_lower(c1 - c0, w, alpha, b + c0, ldb, beta, t + c0, ldc);
        if (c1 < m) blas::gemm(false, true, m - c1, c1 - c0, w, alpha, b + c1, ldb, b + c0, ldb, beta, t + c1, ldc);
    });
}

}  // namespace

void solve_and_update_pooled(int m, int w, const double* l, int ldl, double* b, int ldb, double alpha, double beta,
                             double* c, int ldc, int threads) {
    if (0.5 * static_cast<double>(m) * m * w < kPooledUpdate) {
        blas::trsm_right_lower_trans(m, w, l, ldl, b, ldb);
        blas::syrk_lower(m, w, alpha, b, ldb, beta, c, ldc);
        return;
    }
    solve_and_update_chunked(m, w, l, ldl, b, ldb, alpha, beta, c, ldc, threads);
}

int potrf_lower_blocked(int n, double* a, int lda, int threads) {
    if (n < kPooledFrom) return blas::potrf_lower(n, a, lda);
    const blas::SingleThreaded one_thread;
    for (int k0 = 0; k0 < n; k0 += kPanel) {
        const int nb = std::min(kPanel, n - k0);
        double* d = a + static_cast<size_t>(k0) * lda + k0;
        const int info = blas::potrf_lower_lapack(nb, d, lda);
        if (info != 0) return k0 + info;
        const int rest = n - k0 - nb;
        if (rest == 0) break;
        double* below = d + nb;                                 // rest x nb, solved in place
        double* trail = d + static_cast<size_t>(nb) * lda + nb;  // rest x rest, lower triangle updated
        solve_and_update_chunked(rest, nb, d, lda, below, lda, -1.0, 1.0, trail, lda, threads);
    }
    return 0;
}

}  // namespace mm
