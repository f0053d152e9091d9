#include "blas.hpp"

#include <cmath>
#include <cstddef>

#include "small.hpp"

namespace mm::blas {

Table fn;

constexpr int kRecursiveTrtri = 128;  // up to this order trtri_lower is LAPACK's, above it recursive

void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
          int ldb, double beta, double* c, int ldc) {
    if (m == 0 || n == 0) return;
    const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
    fn.dgemm(&ca, &cb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
}

void syrk_lower(int n, int k, double alpha, const double* a, int lda, double beta, double* c, int ldc) {
    if (n == 0) return;
    const char uplo = 'L', tr = 'N';
    fn.dsyrk(&uplo, &tr, &n, &k, &alpha, a, &lda, &beta, c, &ldc);
}

void trsm_right_lower_trans(int m, int n, const double* l, int ldl, double* b, int ldb) {
    if (m == 0 || n == 0) return;
    const char side = 'R', uplo = 'L', tr = 'T', diag = 'N';
    const double one = 1.0;
    fn.dtrsm(&side, &uplo, &tr, &diag, &m, &n, &one, l, &ldl, b, &ldb);
}

void trsm_left_lower(int m, int n, const double* l, int ldl, double* b, int ldb) {
    if (m == 0 || n == 0) return;
    const char side = 'L', uplo = 'L', tr = 'N', diag = 'N';
    const double one = 1.0;
    fn.dtrsm(&side, &uplo, &tr, &diag, &m, &n, &one, l, &ldl, b, &ldb);
}

void trsm_left_lower_trans(int m, int n, const double* l, int ldl, double* b, int ldb) {
    if (m == 0 || n == 0) return;
    const char side = 'L', uplo = 'L', tr = 'T', diag = 'N';
    const double one = 1.0;
    fn.dtrsm(&side, &uplo, &tr, &diag, &m, &n, &one, l, &ldl, b, &ldb);
}

void gemv(bool ta, int m, int n, double alpha, const double* a, int lda, const double* x, double beta,
          double* y) {
    if (m == 0 || n == 0) return;
    const char t = ta ? 'T' : 'N';
    const int inc = 1;
    fn.dgemv(&t, &m, &n, &alpha, a, &lda, x, &inc, &beta, y, &inc);
}

namespace {

// LAPACK's dpotrf with reference LAPACK's answer on a NaN: the row of the first pivot that is not a
// number. OpenBLAS's own dpotrf tests a pivot by ajj <= 0 only and factors on through a NaN (every
// later pivot then NaN too), which the factor's diagonal shows.
int lapack_potrf(int n, double* a, int lda) {
    const char uplo = 'L';
    int info = 0;
    fn.dpotrf(&uplo, &n, a, &lda, &info);
    const int upto = info > 0 ? info - 1 : n;
    for (int j = 0; j < upto; ++j)
        if (std::isnan(a[j + static_cast<std::ptrdiff_t>(j) * lda])) return j + 1;
    return info;
}

}  // namespace

int potrf_lower_lapack(int n, double* a, int lda) { return n == 0 ? 0 : lapack_potrf(n, a, lda); }

int potrf_lower(int n, double* a, int lda) {
    if (n == 0) return 0;
    if (n <= 32) return small::chol_ld(a, n, lda);  // cheaper than waking BLAS threads
    return lapack_potrf(n, a, lda);
}

void trmm_lower(bool left, int m, int n, double alpha, const double* l, int ldl, double* b, int ldb) {
    if (m == 0 || n == 0) return;
    const char side = left ? 'L' : 'R', uplo = 'L', tr = 'N', diag = 'N';
    fn.dtrmm(&side, &uplo, &tr, &diag, &m, &n, &alpha, l, &ldl, b, &ldb);
}

void trmm_lower_trans_left(int m, int n, double alpha, const double* l, int ldl, double* b, int ldb) {
    if (m == 0 || n == 0) return;
    const char side = 'L', uplo = 'L', tr = 'T', diag = 'N';
    fn.dtrmm(&side, &uplo, &tr, &diag, &m, &n, &alpha, l, &ldl, b, &ldb);
}

void syrk_lower_trans(int n, int k, double alpha, const double* a, int lda, double beta, double* c, int ldc) {
    if (n == 0) return;
    const char uplo = 'L', tr = 'T';
    fn.dsyrk(&uplo, &tr, &n, &k, &alpha, a, &lda, &beta, c, &ldc);
}

int trtri_lower(int n, double* a, int lda) {
    if (n == 0) return 0;
    if (n <= kRecursiveTrtri) {
        const char uplo = 'L', diag = 'N';
        int info = 0;
        fn.dtrtri(&uplo, &diag, &n, a, &lda, &info);
        return info;
    }
    // Recursively by halves: with L = [L11 0; L21 L22], L^{-1} = [L11^{-1} 0; -L22^{-1} L21 L11^{-1} L22^{-1}],
    // the off-diagonal part by two triangular products. Every level is matrix-matrix work; OpenBLAS's
    // own dtrtri on one thread is 2-3x slower at n = 300-500 (measured with scipy's build).
    const int n1 = n / 2, n2 = n - n1;
    double* l21 = a + n1;
    double* l22 = a + static_cast<size_t>(n1) * lda + n1;
    int info = trtri_lower(n1, a, lda);
    if (info != 0) return info;
    info = trtri_lower(n2, l22, lda);
    if (info != 0) return n1 + info;
    trmm_lower(false, n2, n1, 1.0, a, lda, l21, lda);    // L21 L11^{-1}
    trmm_lower(true, n2, n1, -1.0, l22, lda, l21, lda);  // -L22^{-1} L21 L11^{-1}
    return 0;
}

int lauum_lower(int n, double* a, int lda) {
    if (n == 0) return 0;
    const char uplo = 'L';
    int info = 0;
    fn.dlauum(&uplo, &n, a, &lda, &info);
    return info;
}

}  // namespace mm::blas
