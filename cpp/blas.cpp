#include "blas.hpp"

#include "small.hpp"

namespace mm::blas {

Table fn;

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

int potrf_lower(int n, double* a, int lda) {
    if (n == 0) return 0;
    if (n <= 32) return small::chol_ld(a, n, lda);  // cheaper than waking BLAS threads
    const char uplo = 'L';
    int info = 0;
    fn.dpotrf(&uplo, &n, a, &lda, &info);
    return info;
}

int trtri_lower(int n, double* a, int lda) {
    if (n == 0) return 0;
    const char uplo = 'L', diag = 'N';
    int info = 0;
    fn.dtrtri(&uplo, &diag, &n, a, &lda, &info);
    return info;
}

}  // namespace mm::blas
